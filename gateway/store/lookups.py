"""Status lookups relayed to the central: the kiosk asks through the store, the sync process answers.

The kiosk and the sync side never import each other (docs/architecture.md); the store is what they share. When a
citizen checks a number this gateway does not hold (it was filed at another kiosk of the regency), the kiosk
writes a lookup row (:meth:`~LookupsMixin.ask_status_lookup`), the sync process relays it to the central's ``POST /api/v1/status-lookup``
and writes the answer (:meth:`~LookupsMixin.pending_status_lookups`, :meth:`~LookupsMixin.answer_status_lookup`), and the kiosk reads it (:meth:`~LookupsMixin.take_status_lookup`), which deletes the
row. A typed code stays on the disk only for the seconds of one lookup: ``secure_delete`` zeroes it in the
database file, and every transaction that clears a code or deletes a lookup (whose answer may hold an officer's
words) records that a TRUNCATE checkpoint is owed (:func:`gateway.store.db.owe_checkpoint`), which the sync
process pays as soon as no reader is in the way, so the old pages leave the ``-wal`` file too.

The sync process's relay records a heartbeat in meta (:meth:`~LookupsMixin.beat_lookup_relay`) while it runs; the kiosk waits for a
relayed answer only while the heartbeat is fresh (:meth:`~LookupsMixin.lookup_relay_running`), and answers at once otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import Lookup

STALE_MS = 60_000  # a lookup nobody answered or read within a minute is dropped
HEARTBEAT_KEY = "sync.lookup_relay"  # meta: when the sync process's relay last said it is running (ms)
HEARTBEAT_MS = 10_000  # how often the relay renews it
HEARTBEAT_FRESH_MS = 3 * HEARTBEAT_MS  # a heartbeat older (or further in the future) than this: not running


class LookupsMixin(StoreBase):
    """The status lookups' queries of :class:`~gateway.store.Store`."""

    def ask_status_lookup(self, number: str, code: str | None) -> int:
        """Queue a lookup of ``number`` (with the code the citizen typed, or None); returns its id."""
        now = db.now_ms()
        with db.transaction(self.conn, "asking for a status lookup"):
            stale = self.conn.execute("DELETE FROM status_lookups WHERE requested_at < ?", (now - STALE_MS,))
            if stale.rowcount:
                db.owe_checkpoint(self.conn)
            cur = self.conn.execute(
                "INSERT INTO status_lookups (number, code, requested_at) VALUES (?, ?, ?)",
                (number, code, now),
            )
        return int(cur.lastrowid or 0)

    def pending_status_lookups(self, limit: int = 20) -> list[Lookup]:
        """Unanswered lookups not yet stale, oldest first: ``{"id", "number", "code"}``."""
        rows = self.conn.execute(
            "SELECT id, number, code FROM status_lookups WHERE answered_at IS NULL AND requested_at >= ? "
            "ORDER BY id LIMIT ?",
            (db.now_ms() - STALE_MS, limit),
        ).fetchall()
        return [{"id": i, "number": n, "code": c} for i, n, c in rows]

    def answer_status_lookup(self, lookup_id: int, result: dict[str, Any]) -> None:
        """Record the central's answer (or ``{"error": ...}``) to a lookup; its code is forgotten at once."""
        with db.transaction(self.conn, "recording a status lookup"):
            row = self.conn.execute("SELECT code FROM status_lookups WHERE id = ?", (lookup_id,)).fetchone()
            self.conn.execute(
                "UPDATE status_lookups SET answer = ?, answered_at = ?, code = NULL WHERE id = ?",
                (json.dumps(result, ensure_ascii=False), db.now_ms(), lookup_id),
            )
            if row is not None and row[0] is not None:
                db.owe_checkpoint(self.conn)

    def take_status_lookup(self, lookup_id: int) -> dict[str, Any] | None:
        """The answer to a lookup, deleting the row once answered; None while it is not answered yet."""
        row = self.conn.execute(
            "SELECT answer FROM status_lookups WHERE id = ? AND answered_at IS NOT NULL", (lookup_id,)
        ).fetchone()
        if row is None:
            return None
        self.drop_status_lookup(lookup_id)
        return dict(json.loads(row[0]))

    def drop_status_lookup(self, lookup_id: int) -> None:
        """Forget a lookup (answered or not); a TRUNCATE checkpoint is owed for it."""
        with db.transaction(self.conn, "dropping a status lookup"):
            if self.conn.execute("DELETE FROM status_lookups WHERE id = ?", (lookup_id,)).rowcount:
                db.owe_checkpoint(self.conn)

    def beat_lookup_relay(self) -> None:
        """The relay is running (the sync process calls this at least every :data:`HEARTBEAT_MS`)."""
        self.set_meta(HEARTBEAT_KEY, str(db.now_ms()))

    def stop_lookup_relay(self) -> None:
        """The relay has stopped: the kiosk no longer waits for it."""
        self.set_meta(HEARTBEAT_KEY, None)

    def lookup_relay_running(self) -> bool:
        """Whether the sync process's relay said within :data:`HEARTBEAT_FRESH_MS` that it is running."""
        value = self.get_meta(HEARTBEAT_KEY)
        try:
            return value is not None and abs(db.now_ms() - int(value)) <= HEARTBEAT_FRESH_MS
        except ValueError:
            return False
