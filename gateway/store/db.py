"""Connections, transactions, migrations and the translation of SQLite's errors into ours."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway import faults, private
from gateway.errors import StoreError, StoreFullError
from gateway.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
# A new store's page size (SQLite's default is 4096). Every commit writes each page it touches to the WAL
# whatever it changed in it, and the reading writer's commits touch a dozen pages for a few hundred bytes of
# news (the tails of frames, readings and the 5-minute aggregates, one place of the dedup key per node, the
# latest values, node rows, AUTOINCREMENT's sequence): with 1 KiB pages those WAL frames are a quarter as
# large, and so are the bytes written to the SD card (bench/field.py). A store made with 4 KiB pages keeps them.
PAGE_SIZE = 1024
# The WAL is checkpointed into the database file once it holds this much (SQLite's default is 1000 pages,
# 4 MiB of 4 KiB pages; kept in bytes with smaller pages: each checkpoint writes every page the WAL changed).
WAL_CHECKPOINT_BYTES = 4 << 20
# Each connection's page cache, in KiB (SQLite's default is 2,000 KiB). Every thread of a process has its own
# connections (the kiosk's request threads, the sync's relay...), each filling its cache as the store grows: at
# the default, a year's store made each of them 2 MB of RSS. The file's pages stay in the kernel's page cache, so
# a page read again costs a copy, not a disk read.
CACHE_KIB = 256
CHECKPOINT_WAIT_MS = 500  # how long a TRUNCATE checkpoint waits for readers (holding the write lock)
# meta key: a TRUNCATE checkpoint must still complete (purged data is in the WAL)
CHECKPOINT_OWED = "checkpoint_owed"


def now_ms() -> int:
    return int(time.time() * 1000)


def connect(
    path: Path,
    *,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy_timeout, given sync level.

    ``busy_timeout_ms`` is how long a statement waits for another connection's lock before it fails with
    "database is locked" (SQLITE_BUSY). ``secure_delete`` is on for every connection: deleted or overwritten
    content (a purged NIK) is zeroed in its page instead of lingering in free space, whatever the SQLite build's
    default. A new store file is created private (0600) and its folder 0700, whatever the process umask (see
    :mod:`gateway.private`). Read-only connections: :mod:`gateway.store.readonly`.
    """
    try:
        private.create_file(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute("PRAGMA secure_delete = ON")
        if not Path(path).stat().st_size:  # a new store: small pages (ignored once the file has any)
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = WAL")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, WAL_CHECKPOINT_BYTES // int(page_size))}")
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


def checkpoint_truncate(conn: sqlite3.Connection, wait_ms: int = CHECKPOINT_WAIT_MS) -> bool:
    """Copy the WAL into the database file and truncate the WAL to zero bytes; True only when it completed.

    Completed means SQLite reported ``busy = 0`` and every frame of the WAL checkpointed (``log`` equal to
    ``checkpointed``), so the old pages left in the ``-wal`` file (a purged NIK, a typed status code) are gone.
    A reader holding a snapshot (another process's open read transaction) makes it give up: while it waits
    for readers it holds the write lock, so it waits ``wait_ms`` at most, not the usual busy timeout, and
    reports False. Raises StoreError when SQLite fails otherwise.
    """
    try:
        (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(previous)}")
    except sqlite3.Error as err:
        raise translate(err, "checkpointing the store") from err
    return bool(busy == 0 and log == done)


def owe_checkpoint(conn: sqlite3.Connection) -> None:
    """Record (inside the caller's transaction) that the WAL holds data that must leave the disk: a TRUNCATE
    checkpoint is owed until :func:`settle_checkpoint` completes one. Each call stamps a new value, so that a
    debt recorded while a checkpoint is under way is never cleared by it."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (CHECKPOINT_OWED, f"{now_ms()}-{secrets.token_hex(4)}"),
    )


def checkpoint_owed(conn: sqlite3.Connection) -> bool:
    """Whether a TRUNCATE checkpoint is owed (see :func:`owe_checkpoint`)."""
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", (CHECKPOINT_OWED,)).fetchone() is not None


def settle_checkpoint(conn: sqlite3.Connection, wait_ms: int = CHECKPOINT_WAIT_MS) -> bool:
    """Pay an owed TRUNCATE checkpoint; True when none is owed any more (nothing was, or it completed).

    A reader in the way leaves the debt recorded (False): the sync process tries again every round and every
    few seconds while idle, until one completes. Raises StoreError when the store cannot be read or written.
    """
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (CHECKPOINT_OWED,)).fetchone()
    except sqlite3.Error as err:
        raise translate(err, "reading the store") from err
    if row is None:
        return True
    if not checkpoint_truncate(conn, wait_ms):
        return False
    with transaction(conn, "recording a checkpoint"):
        conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (CHECKPOINT_OWED, row[0]))
    return not checkpoint_owed(conn)


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
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if not has_table:
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
