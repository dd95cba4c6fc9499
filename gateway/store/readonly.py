"""Reading a store without touching it: for the technician's tools (``anjungan doctor``), which must say what
they find and change nothing, not even a store that is damaged or empty.

SQLite's ``mode=ro`` still creates the ``-wal`` and ``-shm`` files of a WAL database when they do not exist, and
cannot remove them again (a read-only connection may not delete them). So :func:`connect` opens the store
``immutable=1`` (no locks, no side files) when neither file exists, which means that no connection has the
store open (the last one to close removes them); a service that starts while the tool reads could make one
answer wrong, never the store. When they exist (the services run), it opens ``mode=ro`` and shares them as
any reader does. :func:`damage` says why a file is no SQLite database at all (empty, a foreign header) before
SQLite is asked, which would take an empty file for an empty database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from gateway.errors import StoreError
from gateway.store import db

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file (fileformat2.html)


def damage(path: Path) -> str | None:
    """Why the file at ``path`` cannot be a SQLite database (empty, shorter than a header, another kind of
    file), or None when it may be one. Reads 100 bytes; raises OSError when the file cannot be read."""
    with open(path, "rb") as handle:
        head = handle.read(100)
    if not head:
        return "the file is empty (0 bytes)"
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        return f"the file is not a SQLite database (it starts {head[:16]!r})"
    return None


def connect(path: Path, busy_timeout_ms: int = db.BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection that reads the store at ``path`` and changes nothing on disk (see the module's docstring).

    Raises StoreError when there is no file, or it is no SQLite database (:func:`damage`).
    """
    path = Path(path)
    try:
        why = damage(path)
    except FileNotFoundError:
        raise StoreError(f"no store at {path}") from None
    except OSError as err:
        raise StoreError(f"cannot read the store {path}: {err.strerror or err}") from err
    if why is not None:
        raise StoreError(f"the store {path} is damaged: {why}")
    in_use = Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
    uri = f"file:{quote(str(path.absolute()))}?mode=ro" + ("" if in_use else "&immutable=1")
    return _open(uri, path, busy_timeout_ms)


def reader(path: Path, busy_timeout_ms: int = db.BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A read-only connection for a service that reads a live store (the kiosk's pages, the read-only commands):
    ``mode=ro`` and ``query_only``, so that no statement on it can change the store, yet (unlike
    :func:`connect`) never ``immutable``: it sees every commit of the writers as it happens.

    The store must be in WAL mode with its ``-shm`` file present or creatable by another connection (the
    :class:`~gateway.store.Store` opens its read-write connection first). Raises StoreError when it cannot be
    opened.
    """
    return _open(f"file:{quote(str(Path(path).absolute()))}?mode=ro", path, busy_timeout_ms)


def _open(uri: str, path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open ``uri`` (a read-only SQLite URI of the store at ``path``) with ``query_only`` on; StoreError when
    it cannot be opened."""
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute(f"PRAGMA cache_size = -{db.CACHE_KIB}")
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as err:
        raise db.translate(err, f"cannot open the store {path}") from err
    return conn


def is_damaged(err: BaseException) -> bool:
    """Whether ``err`` (a StoreError raised from a sqlite3 error, or that error) says the file is damaged:
    SQLITE_CORRUPT or SQLITE_NOTADB."""
    cause = err if isinstance(err, sqlite3.Error) else err.__cause__
    code = getattr(cause, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
