"""Status lookups relayed to the central: the kiosk asks through the store, the sync process answers.

The kiosk and the sync side never import each other (docs/architecture.md); the store is what they share. When a
citizen checks a number this gateway does not hold (it was filed at another kiosk of the regency), the kiosk
writes a lookup row (:func:`ask`), the sync process relays it to the central's ``POST /api/v1/status-lookup``
and writes the answer (:func:`pending`, :func:`answer`), and the kiosk reads it (:func:`take`), which deletes the
row: a typed code stays on the disk only for the seconds of one lookup (and ``secure_delete`` zeroes it).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.store import db

STALE_MS = 60_000  # a lookup nobody answered or read within a minute is dropped


def ask(store: Any, number: str, code: str | None) -> int:
    """Queue a lookup of ``number`` (with the code the citizen typed, or None); returns its id."""
    now = db.now_ms()
    with db.transaction(store.conn, "asking for a status lookup"):
        store.conn.execute("DELETE FROM status_lookups WHERE requested_at < ?", (now - STALE_MS,))
        cur = store.conn.execute(
            "INSERT INTO status_lookups (number, code, requested_at) VALUES (?, ?, ?)", (number, code, now)
        )
    return int(cur.lastrowid or 0)


def pending(store: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Unanswered lookups not yet stale, oldest first: ``{"id", "number", "code"}``."""
    rows = store.conn.execute(
        "SELECT id, number, code FROM status_lookups WHERE answered_at IS NULL AND requested_at >= ? "
        "ORDER BY id LIMIT ?",
        (db.now_ms() - STALE_MS, limit),
    ).fetchall()
    return [{"id": i, "number": n, "code": c} for i, n, c in rows]


def answer(store: Any, lookup_id: int, result: dict[str, Any]) -> None:
    """Record the central's answer (or ``{"error": ...}``) to a lookup; its code is forgotten at once."""
    with db.transaction(store.conn, "recording a status lookup"):
        store.conn.execute(
            "UPDATE status_lookups SET answer = ?, answered_at = ?, code = NULL WHERE id = ?",
            (json.dumps(result, ensure_ascii=False), db.now_ms(), lookup_id),
        )


def take(store: Any, lookup_id: int) -> dict[str, Any] | None:
    """The answer to a lookup, deleting the row once answered; None while it is not answered yet."""
    row = store.conn.execute(
        "SELECT answer FROM status_lookups WHERE id = ? AND answered_at IS NOT NULL", (lookup_id,)
    ).fetchone()
    if row is None:
        return None
    drop(store, lookup_id)
    return dict(json.loads(row[0]))


def drop(store: Any, lookup_id: int) -> None:
    """Forget a lookup (answered or not)."""
    with db.transaction(store.conn, "dropping a status lookup"):
        store.conn.execute("DELETE FROM status_lookups WHERE id = ?", (lookup_id,))
