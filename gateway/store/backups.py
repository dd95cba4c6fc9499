"""Purging the upgrade's backups (gateway/upgrade.py) as the store purges itself: a backup is a copy of the
store file, so its SQL lives here with the store's. See :func:`gateway.upgrade.scrub_backups`."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from gateway.store import db


def holding_personal(conn: sqlite3.Connection) -> set[str]:
    """The uuids of the submissions whose personal data the store (or copy) at ``conn`` still holds (those the
    central does not have yet, and refused ones)."""
    return {row[0] for row in conn.execute("SELECT uuid FROM submissions WHERE personal IS NOT NULL")}


def scrub(path: Path, holding: Collection[str]) -> int:
    """Purge ``path``'s personal data outside ``holding`` as the store purges (secure_delete, then a TRUNCATE
    checkpoint so that no old page stays in a -wal file); the number of submissions purged."""
    if not needs_scrub(path, holding):
        return 0
    conn = db.connect(path)
    try:
        conn.execute("CREATE TEMP TABLE holding (uuid TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO holding (uuid) VALUES (?)", ((uuid,) for uuid in holding))
        with db.transaction(conn, f"purging personal data from the backup {path}"):
            purged = conn.execute(
                "UPDATE submissions SET personal = NULL, purged_at = ? WHERE personal IS NOT NULL "
                "AND uuid NOT IN (SELECT uuid FROM holding)",
                (db.now_ms(),),
            ).rowcount
            if _has_table(conn, "status_lookups"):
                conn.execute("DELETE FROM status_lookups")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return purged


def needs_scrub(path: Path, holding: Collection[str]) -> bool:
    """Whether ``path`` holds personal data outside ``holding`` or a status lookup (read only: creates
    nothing, writes nothing)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        uuids = {row[0] for row in conn.execute("SELECT uuid FROM submissions WHERE personal IS NOT NULL")}
        lookups = (
            _has_table(conn, "status_lookups")
            and conn.execute("SELECT 1 FROM status_lookups LIMIT 1").fetchone() is not None
        )
    finally:
        conn.close()
    return bool(uuids - set(holding)) or bool(lookups)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        is not None
    )
