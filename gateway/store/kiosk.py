"""Queries the kiosk needs beyond the Store's API: alert state transitions, submission lists, versions.

Kept apart so that the store's core stays small; every function takes a :class:`~gateway.store.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.store import db

ALERT_META_PREFIX = "kiosk.alert."


def alert_transition(store: Any, key: str, active: bool, data: Mapping[str, Any], node: str | None) -> bool:
    """Record that alert ``key`` is now ``active``; True when this call changed its state.

    The state lives in ``meta`` and is compared and changed in one ``BEGIN IMMEDIATE`` transaction together
    with the ``alert`` / ``alert_cleared`` event, so the event is recorded exactly once per crossing however
    many threads or processes evaluate the same reading.
    """
    meta_key = ALERT_META_PREFIX + key
    conn = store.conn
    with db.transaction(conn, "recording an alert"):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (meta_key,)).fetchone()
        was_active = bool(row and json.loads(row[0]).get("active"))
        if was_active == active:
            return False
        now = store.clock.now_ms()
        state = {"active": active, "since": now, **data}
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (meta_key, json.dumps(state, ensure_ascii=False)),
        )
        conn.execute(
            "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
            (now, store.clock_offset(), node, "alert" if active else "alert_cleared",
             json.dumps({"alert": key, **data}, ensure_ascii=False, separators=(",", ":"))),
        )  # fmt: skip
    return True


def alert_states(store: Any) -> dict[str, dict[str, Any]]:
    """Every recorded alert state by key."""
    rows = store.conn.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ?", (ALERT_META_PREFIX, ALERT_META_PREFIX + "~")
    )
    return {key[len(ALERT_META_PREFIX) :]: json.loads(value) for key, value in rows}


def recent_submissions(store: Any, limit: int = 100) -> list[dict[str, Any]]:
    """The newest submissions for the operator: number, kind, day, status, due date — no personal data."""
    rows = store.conn.execute(
        "SELECT number, kind, day, status, due_date, answered_at, personal IS NOT NULL FROM submissions "
        "ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
    names = ("number", "kind", "day", "status", "due_date", "answered_at", "holds_personal")
    return [dict(zip(names, row, strict=True)) for row in rows]


def submission_counts(store: Any) -> dict[str, int]:
    """Open submissions per status."""
    rows = store.conn.execute("SELECT status, count(*) FROM submissions GROUP BY status ORDER BY status")
    return {status: count for status, count in rows}


def content_version(store: Any) -> tuple[int, int]:
    """(count, newest updated_at) of the content table: changes whenever the central's content does."""
    count, newest = store.conn.execute(
        "SELECT count(*), coalesce(max(updated_at), 0) FROM content"
    ).fetchone()
    return int(count), int(newest)
