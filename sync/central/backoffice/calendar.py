"""The regency's working-day calendar: the national one (gateway.dates: public holidays and cuti bersama)
plus the local days off an admin adds. Deadlines of UU 14/2008 and SP4N-LAPOR! are counted on it."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.dates import WorkCalendar
from sync.central.backoffice import audit
from sync.central.backoffice.errors import NotFoundError
from sync.central.backoffice.models import days_off


def load(conn: Connection) -> WorkCalendar:
    """The calendar with the local days off stored now."""
    days = conn.execute(sa.select(days_off.c.day)).scalars().all()
    return WorkCalendar(frozenset(date.fromisoformat(d) for d in days))


def days_off_list(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(days_off).order_by(days_off.c.day)).mappings()]


def add_day_off(engine: Engine, day: date, name: str, actor: audit.Actor, now_ms: int) -> None:
    """Add (or rename) a local day off; deadlines computed after this count it as a day off."""
    with engine.begin() as conn:
        key = day.isoformat()
        before = conn.execute(sa.select(days_off.c.name).where(days_off.c.day == key)).scalar()
        if before is None:
            conn.execute(days_off.insert().values(day=key, name=name.strip()))
        else:
            conn.execute(days_off.update().where(days_off.c.day == key).values(name=name.strip()))
        audit.record(conn, actor, "day-off-add", "day-off:" + key, now_ms, before, name.strip())


def remove_day_off(engine: Engine, day: str, actor: audit.Actor, now_ms: int) -> None:
    """Remove a local day off; NotFoundError when there is none on that day."""
    with engine.begin() as conn:
        before = conn.execute(sa.select(days_off.c.name).where(days_off.c.day == day)).scalar()
        if before is None:
            raise NotFoundError(f"no local day off on {day}")
        conn.execute(days_off.delete().where(days_off.c.day == day))
        audit.record(conn, actor, "day-off-remove", "day-off:" + day, now_ms, before, None)
