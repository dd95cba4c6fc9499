"""Status lookups relayed to the central: the kiosk asks through the store, the sync process answers.

The kiosk and the sync side never import each other (docs/architecture.md); the store is what they share. When a
citizen checks a number this gateway does not hold (it was filed at another kiosk of the regency), the kiosk
writes a lookup row (:func:`ask`), the sync process relays it to the central's ``POST /api/v1/status-lookup``
and writes the answer (:func:`pending`, :func:`answer`), and the kiosk reads it (:func:`take`), which deletes the
row. A typed code stays on the disk only for the seconds of one lookup: ``secure_delete`` zeroes it in the
database file, and every transaction that clears a code or deletes a lookup (whose answer may hold an officer's
words) records that a TRUNCATE checkpoint is owed (:func:`gateway.store.db.owe_checkpoint`), which the sync
process pays as soon as no reader is in the way, so the old pages leave the ``-wal`` file too.

The sync process's relay holds a lock (:func:`hold_relay`: a shared ``flock`` on ``<data_dir>/run/lookup-relay``)
while it runs; the kiosk waits for a relayed answer only while someone holds it (:func:`relay_running`), and
answers at once otherwise. The kernel drops the lock when the relay lets go of it or its process ends, however
it ends, and holding it writes nothing (a heartbeat in meta, renewed every 10 s, wrote a page to the SD card
each time).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from gateway import private
from gateway.store import db

STALE_MS = 60_000  # a lookup nobody answered or read within a minute is dropped
RELAY_LOCK = "lookup-relay"  # under <data_dir>/run: held (shared flock) by every running relay


def ask(store: Any, number: str, code: str | None) -> int:
    """Queue a lookup of ``number`` (with the code the citizen typed, or None); returns its id."""
    now = db.now_ms()
    with db.transaction(store.conn, "asking for a status lookup"):
        stale = store.conn.execute("DELETE FROM status_lookups WHERE requested_at < ?", (now - STALE_MS,))
        if stale.rowcount:
            db.owe_checkpoint(store.conn)
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
        row = store.conn.execute("SELECT code FROM status_lookups WHERE id = ?", (lookup_id,)).fetchone()
        store.conn.execute(
            "UPDATE status_lookups SET answer = ?, answered_at = ?, code = NULL WHERE id = ?",
            (json.dumps(result, ensure_ascii=False), db.now_ms(), lookup_id),
        )
        if row is not None and row[0] is not None:
            db.owe_checkpoint(store.conn)


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
    """Forget a lookup (answered or not); a TRUNCATE checkpoint is owed for it."""
    with db.transaction(store.conn, "dropping a status lookup"):
        if store.conn.execute("DELETE FROM status_lookups WHERE id = ?", (lookup_id,)).rowcount:
            db.owe_checkpoint(store.conn)


def relay_lock_path(store: Any) -> Path:
    """The relay's lock file, beside the store: ``<data_dir>/run/lookup-relay``."""
    return Path(store.path).parent / "run" / RELAY_LOCK


def hold_relay(store: Any) -> int:
    """Say that a relay runs, for as long as the returned file descriptor is open (close it with
    :func:`release_relay`; the kernel closes it when the process ends). Several relays may hold it at once.
    Writes nothing to the store. Raises OSError when the lock file cannot be made (0600, its folder 0700)."""
    path = relay_lock_path(store)
    private.create_file(path)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a kiosk is looking (an instant)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_relay(fd: int) -> None:
    """The relay has stopped: the kiosk no longer waits for it."""
    os.close(fd)  # drops the flock


def relay_running(store: Any) -> bool:
    """Whether a relay holds the lock (:func:`hold_relay`) now. Creates nothing; an instant's exclusive try."""
    try:
        fd = os.open(relay_lock_path(store), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the lock just taken
    return False
