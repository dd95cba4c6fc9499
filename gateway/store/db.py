"""Connections, transactions, migrations and the translation of SQLite's errors into ours."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from gateway import faults, private
from gateway.errors import StoreError, StoreFullError
from gateway.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


def now_ms() -> int:
    return int(time.time() * 1000)


def connect(
    path: Path,
    *,
    synchronous: str = "NORMAL",
    readonly: bool = False,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy_timeout, given sync level.

    ``busy_timeout_ms`` is how long a statement waits for another connection's lock before it fails with
    "database is locked" (SQLITE_BUSY). ``secure_delete`` is on for every connection: deleted or overwritten
    content (a purged NIK) is zeroed in its page instead of lingering in free space, whatever the SQLite build's
    default. A new store file is created private (0600) and its folder 0700, whatever the process umask (see
    :mod:`gateway.private`).
    """
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            private.create_file(path)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA secure_delete = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error as err:
        raise translate(err, f"cannot open the store {path}") from err
    return conn


def translate(err: sqlite3.Error, doing: str) -> StoreError:
    """Our error for a SQLite error; a full disk gets its own class and a message a person can act on."""
    text = str(err)
    code = getattr(err, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or (isinstance(err, sqlite3.OperationalError) and "is full" in text):
        return StoreFullError(
            "the disk is full: nothing new can be saved until space is freed; everything already saved is intact"
        )
    return StoreError(f"{doing}: {text}")


@contextmanager
def transaction(conn: sqlite3.Connection, doing: str = "store write") -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error, SQLite errors translated."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as err:
        raise translate(err, doing) from err
    try:
        yield conn
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, doing) from exc
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as err:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise translate(err, doing) from err


def checkpoint_truncate(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database file and truncate the WAL to zero bytes; True when it completed.

    Used after personal data is purged, so that the old pages holding it leave the ``-wal`` file at once
    instead of whenever the next automatic checkpoint wraps around. A reader holding an old snapshot makes it
    wait (busy_timeout) and, past that, report False (the next purge or checkpoint finishes the job).
    """
    try:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as err:
        raise translate(err, "checkpointing the store") from err
    return not busy


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short read transaction (ended before the caller does any network I/O)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied."""
    db = sqlite_utils.Database(conn)
    if "migrations" not in db.table_names():
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
        )
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with transaction(conn, f"migration {name}"):
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                continue  # another process applied it while we waited for the write lock
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_ms()))
        applied.append(name)
    return applied


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """The names of the migrations not yet recorded in the store, in order."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")} if has_table else set()
    return [name for name, _sql in MIGRATIONS if name not in done]


def migrate_all_or_nothing(conn: sqlite3.Connection) -> list[str]:
    """Apply every pending migration in ONE transaction, checked before it commits; return the names applied.

    SQLite's schema changes are transactional: when any statement fails, or the integrity check after them does,
    everything is rolled back and the store is exactly as before (a crash in between is rolled back too, by
    the WAL). Raises StoreError naming the migration that failed.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    scripts = dict(MIGRATIONS)
    with transaction(conn, "migrating the store"):
        names = pending_migrations(conn)
        for name in names:
            faults.point("store.migration")
            try:
                for statement in _statements(scripts[name]):
                    conn.execute(statement)
            except sqlite3.Error as err:
                raise StoreError(f"migration {name} failed: {err}") from err
            conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_ms()))
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StoreError(f"the migrated store fails its integrity check: {'; '.join(problems[:3])}")
    return names


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for part in sql.split(";"):
        buf += part
        if sqlite3.complete_statement(buf + ";"):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
        else:
            buf += ";"
    return out
