"""The append-only audit trail: every officer action with the values before and after, and every view of a
citizen's personal data. Rows are only ever inserted (no route changes or deletes one, and database triggers
refuse UPDATE and DELETE on ``bo_audit``, a REPLACE of an existing row on SQLite and TRUNCATE on PostgreSQL:
migrations bo01 and bo02)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync.central.backoffice.models import audit
from sync.central.db import submissions
from sync.central.opendata.tables import audit as opendata_audit

PAGE = 100
CSV_FIELDS = ("id", "at", "username", "role", "action", "target", "before", "after", "ip")


@dataclass(frozen=True)
class Actor:
    """Who did it: an officer (or ``system`` for automatic steps), from where."""

    username: str
    role: str
    ip: str | None = None
    target: str | None = None  # what the entry is about when the actor names it (a refused login)


SYSTEM = Actor("sistem", "system")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet takes as the start of a formula


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (OWASP "CSV Injection"): text starting with
    ``= + - @``, a tab or a carriage return gets a leading ``'``; numbers and other values are left as they are.
    Every CSV the back office exports writes its cells through this."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    target: str,
    now_ms: int,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry in the caller's transaction (so an action and its record commit together)."""
    conn.execute(
        audit.insert().values(at_ms=now_ms, username=actor.username, role=actor.role, action=action,
                              target=target[:200], before=_json(before), after=_json(after), ip=actor.ip)
    )  # fmt: skip


def trail() -> Any:
    """The one audit trail the back office shows: its own entries (``bo_audit``) and the officers' open-data
    actions (``opendata_audit``: withholding and showing complaints, setting places, publishing), as rows of
    ``source`` (``backoffice`` or ``opendata``), ``id`` (per source), ``at_ms``, ``username``, ``role`` (None
    for open data), ``action``, ``target``, ``before``, ``after`` (open data's detail), ``ip``."""
    mine = sa.select(
        sa.literal("backoffice").label("source"), audit.c.id, audit.c.at_ms, audit.c.username,
        sa.cast(audit.c.role, sa.Text).label("role"), audit.c.action, audit.c.target, audit.c.before,
        audit.c.after, audit.c.ip,
    )  # fmt: skip
    theirs = sa.select(
        sa.literal("opendata").label("source"), opendata_audit.c.id, opendata_audit.c.at_ms,
        opendata_audit.c.actor.label("username"), sa.cast(sa.null(), sa.Text).label("role"),
        opendata_audit.c.action, opendata_audit.c.target, sa.cast(sa.null(), sa.Text).label("before"),
        opendata_audit.c.detail.label("after"), sa.cast(sa.null(), sa.Text).label("ip"),
    )  # fmt: skip
    return sa.union_all(mine, theirs).subquery("trail")


def _filtered(query: Any, rows: Any, username: str = "", action: str = "", target: str = "") -> Any:
    if username:
        query = query.where(rows.c.username == username)
    if action:
        query = query.where(rows.c.action == action)
    if target:
        query = query.where(rows.c.target.like(f"%{target}%"))
    return query


def entries(engine: Engine, page: int = 1, **filters: str) -> tuple[list[dict[str, Any]], int]:
    """One page of entries of the whole :func:`trail`, newest first (each also with ``shown_target``: the
    target as officers name it, a complaint's registration number instead of its Open311 uuid), and the count
    of all that match."""
    rows = trail()
    with engine.connect() as conn:
        total = conn.execute(
            _filtered(sa.select(sa.func.count()).select_from(rows), rows, **filters)
        ).scalar_one()
        found = conn.execute(
            _filtered(sa.select(rows), rows, **filters)
            .order_by(rows.c.at_ms.desc(), rows.c.source.desc(), rows.c.id.desc())
            .limit(PAGE).offset((page - 1) * PAGE)
        ).mappings().all()  # fmt: skip
        rows_found = [dict(r) for r in found]
        _name_complaints(conn, rows_found)
    return rows_found, int(total)


# open data's actions whose target is a complaint's Open311 uuid
WITHHOLDING = ("open311-hide", "open311-show")


def _name_complaints(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Give each entry a ``shown_target``: for withholding or showing a complaint (whose target is its Open311
    uuid), the complaint's registration number the officers know it by; otherwise the target as it is."""
    uuids = {r["target"] for r in rows if r["source"] == "opendata" and r["action"] in WITHHOLDING}
    numbers: dict[str, str] = {}
    if uuids:
        numbers = {
            str(uuid): str(number)
            for uuid, number in conn.execute(
                sa.select(submissions.c.uuid, submissions.c.number).where(submissions.c.uuid.in_(uuids))
            )
        }
    for row in rows:
        named = row["action"] in WITHHOLDING
        row["shown_target"] = numbers.get(row["target"], row["target"]) if named else row["target"]


def export_csv(engine: Engine, iso: Any, **filters: str) -> Iterator[str]:
    """Every matching entry of the whole :func:`trail` as CSV text, oldest first (``iso``: ms -> ISO 8601 text).

    Read in pages of 1,000 by (time, source, id), each in its own short transaction, so that a long download holds no
    transaction (on SQLite a held transaction would block the writers).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    last: tuple[Any, ...] | None = None
    rows = trail()
    order = (rows.c.at_ms, rows.c.source, rows.c.id)
    while True:
        query = _filtered(sa.select(rows), rows, **filters).order_by(*order).limit(1000)
        if last is not None:
            query = query.where(sa.tuple_(*order) > sa.tuple_(*(sa.literal(v) for v in last)))
        with engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        for row in found:
            writer.writerow([csv_cell(cell) for cell in (
                row["id"], iso(row["at_ms"]), row["username"], row["role"] or "", row["action"], row["target"],
                row["before"] or "", row["after"] or "", row["ip"] or "")])  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(found) < 1000:
            return
        last = (found[-1]["at_ms"], found[-1]["source"], found[-1]["id"])
