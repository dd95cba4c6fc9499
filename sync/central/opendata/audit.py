"""The audit of officers' open-data actions (table ``opendata_audit``): appended, never rewritten."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync.central.errors import CentralError
from sync.central.opendata.tables import audit
from sync.central.service import iso_utc, now_ms


def record(conn: Connection, actor: str, action: str, target: str, detail: Any) -> None:
    """Append one action (``detail`` stored as JSON) in the caller's transaction.

    Raises :class:`CentralError` when ``actor`` is empty: every action names who took it.
    """
    if not actor.strip():
        raise CentralError("say who does this (an officer's name or account)")
    conn.execute(
        audit.insert().values(
            at_ms=now_ms(),
            actor=actor.strip()[:64],
            action=action,
            target=target[:128],
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )


def entries(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """The newest ``limit`` actions, newest first: ``{"at", "actor", "action", "target", "detail"}``."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
    return [
        {"at": iso_utc(r.at_ms), "actor": r.actor, "action": r.action, "target": r.target,
         "detail": json.loads(r.detail)}
        for r in rows
    ]  # fmt: skip
