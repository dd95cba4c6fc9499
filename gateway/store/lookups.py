"""Status lookups relayed to the central: the kiosk asks through the store, the sync process answers.

The kiosk and the sync side never import each other (docs/architecture.md); the store is what they share. When a
citizen checks a number this gateway does not hold (it was filed at another kiosk of the regency), the kiosk
writes a lookup row (:meth:`~LookupsMixin.ask_status_lookup`), the sync process relays it to the central's ``POST /api/v1/status-lookup``
and writes the answer (:meth:`~LookupsMixin.pending_status_lookups`, :meth:`~LookupsMixin.answer_status_lookup`), and the kiosk reads it (:meth:`~LookupsMixin.take_status_lookup`), which deletes the
row. A typed code stays on the disk only for the seconds of one lookup: ``secure_delete`` zeroes it in the
database file, and every transaction that clears a code or deletes a lookup (whose answer may hold an officer's
words) records that a TRUNCATE checkpoint is owed (:func:`gateway.store.db.owe_checkpoint`), which the sync
process pays as soon as no reader is in the way, so the old pages leave the ``-wal`` file too.

The sync process's relay holds a lock (:meth:`~LookupsMixin.hold_lookup_relay`: a shared ``flock`` on
``<data_dir>/run/lookup-relay``) while it runs; the kiosk waits for a relayed answer only while someone holds it
(:meth:`~LookupsMixin.lookup_relay_running`), and answers at once otherwise. The kernel drops the lock when the
relay lets go of it or its process ends, however it ends, and holding it writes nothing (a heartbeat in meta,
renewed every 10 s, wrote a page to the SD card each time: bench/field.py).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from gateway import portlock, private
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import Lookup

STALE_MS = 60_000  # a lookup nobody answered or read within a minute is dropped
RELAY_LOCK = "lookup-relay"  # under <data_dir>/run: held (shared flock) by every running relay


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

    def lookup_relay_lock(self) -> Path:
        """The relay's lock file, beside the store: ``<data_dir>/run/lookup-relay``."""
        return Path(self.path).parent / "run" / RELAY_LOCK

    def hold_lookup_relay(self) -> int:
        """Say that a relay runs, for as long as the returned file descriptor is open (close it with
        :meth:`release_lookup_relay`; the kernel closes it when the process ends). Several relays may hold it
        at once. Writes nothing to the store. Raises OSError when the lock file cannot be made (0600, its
        folder 0700)."""
        path = self.lookup_relay_lock()
        private.create_file(path)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a kiosk is looking (an instant)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release_lookup_relay(fd: int) -> None:
        """The relay has stopped: the kiosk no longer waits for it."""
        os.close(fd)  # drops the flock

    def lookup_relay_running(self) -> bool:
        """Whether a relay holds the lock (:meth:`hold_lookup_relay`) now. Creates nothing; an instant's
        exclusive try."""
        return portlock.is_held(self.lookup_relay_lock())
