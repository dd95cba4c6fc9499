"""What every part of the :class:`~gateway.store.Store` stands on: its connections, meta and the clock offset.

The store's methods live in one module per concern (readings, events, submissions, outbox, dead letters,
content, files, nodes, health, status lookups, the kiosk's own state); each is a mixin over
:class:`StoreBase`, and :class:`gateway.store.Store` is made of all of them. SQL on the store's tables lives
only in gateway/store/ (tests/test_architecture.py checks it).

Connections: raw ``sqlite3`` cursors on the measured hot paths (the ingest writer, the kiosk's public pages, the
uplink: bench/store.py, bench/kiosk.py, bench/sync.py); sqlite-utils (:meth:`StoreBase.query`, the
migrations) where rows as dicts make the code simpler and a few microseconds do not matter.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from gateway import private
from gateway.config import Config
from gateway.errors import StoreError, StoreMissingError, StoreNeedsUpgradeError
from gateway.store import db, readonly, retention
from gateway.store.clock import (
    META_KEYS,
    SYSTEM_CLOCK,
    Learned,
    SystemClock,
    learned_offset,
    read_learned,
)
from gateway.store.writer import ReadingWriter


class StoreBase:
    """Open with :meth:`open`; thread-safe (a connection per thread); :meth:`close` is idempotent.

    ``clock`` is what records are stamped with and what the learned offset is checked against (see
    :mod:`gateway.store.clock`); tests inject one. ``readonly`` opens every connection with
    :func:`gateway.store.readonly.connect`: reads only, and nothing on disk changes (the technician's tools).

    Three connections per thread, each opened on first use: :attr:`conn` (read-write, ``synchronous=NORMAL``),
    :attr:`durable_conn` (``synchronous=FULL``, citizens' submissions) and :attr:`reader` (read-only: the
    queries behind the kiosk's pages, which can never write).
    """

    def __init__(
        self,
        path: Path,
        *,
        budget_bytes: int | None = None,
        clock: SystemClock = SYSTEM_CLOCK,
        readonly: bool = False,
    ):
        self.path = Path(path)
        self.readonly = readonly
        self.budget_bytes = budget_bytes
        self.clock = clock
        self._local = threading.local()
        self._conns: list[tuple[threading.Thread, int, sqlite3.Connection]] = []  # (its thread, its pid, it)
        self._lock = threading.Lock()
        self._writer: ReadingWriter | None = None
        self._acks_held: dict[str, int] = {}  # acknowledgements not written yet (OutboxMixin.mark_acked)

    @classmethod
    def open(
        cls, path: Path | str, *, budget_bytes: int | None = None, clock: SystemClock = SYSTEM_CLOCK
    ) -> Self:
        """Open (creating and migrating if needed) the store at ``path``. Raises StoreError when its folder
        cannot be created or the store cannot be opened or migrated."""
        path = Path(path)
        try:
            private.ensure_dir(path.parent)
        except OSError as err:
            raise StoreError(f"cannot create {path.parent}: {err.strerror}") from err
        store = cls(path, budget_bytes=budget_bytes, clock=clock)
        db.migrate(store.conn)
        return store

    @classmethod
    def from_config(cls, cfg: Config, clock: SystemClock | None = None) -> Self:
        """:meth:`open` for the store of configuration ``cfg`` (its ``store_path``, ``gateway.store_budget_mb``)."""
        return cls.open(
            cfg.store_path, budget_bytes=int(cfg.gateway.store_budget_mb) << 20, clock=clock or SYSTEM_CLOCK
        )

    @classmethod
    def open_existing(
        cls, path: Path | str, *, budget_bytes: int | None = None, clock: SystemClock = SYSTEM_CLOCK
    ) -> Self:
        """Open the store at ``path`` as it is: never created, never migrated (read-only commands and tools).

        Raises StoreMissingError when there is no store, StoreNeedsUpgradeError when it is older than this
        release (only ``anjungan upgrade`` migrates, after a backup: docs/deploy.md), StoreError when it cannot
        be read.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreMissingError(f"no store at {path} (create it with `anjungan init`)")
        conn = readonly.reader(path)
        try:
            pending = db.pending_migrations(conn)
        except sqlite3.Error as err:
            raise db.translate(err, f"cannot read the store {path}") from err
        finally:
            conn.close()
        if pending:
            raise StoreNeedsUpgradeError(
                f"the store {path} needs an upgrade ({len(pending)} migration(s) pending): run "
                "`anjungan upgrade` (it backs the store up first)"
            )
        return cls(path, budget_bytes=budget_bytes, clock=clock)

    @classmethod
    def existing_from_config(cls, cfg: Config, clock: SystemClock | None = None) -> Self:
        """:meth:`open_existing` for the store of configuration ``cfg``."""
        return cls.open_existing(
            cfg.store_path, budget_bytes=int(cfg.gateway.store_budget_mb) << 20, clock=clock or SYSTEM_CLOCK
        )

    # -- connections -----------------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (synchronous=NORMAL)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            opened = readonly.connect(self.path) if self.readonly else db.connect(self.path)
            conn = self._local.conn = self._track(opened)
        return conn

    @property
    def durable_conn(self) -> sqlite3.Connection:
        """This thread's connection with synchronous=FULL, for citizens' submissions."""
        conn: sqlite3.Connection | None = getattr(self._local, "durable", None)
        if conn is None:
            conn = self._local.durable = self._track(db.connect(self.path, synchronous="FULL"))
        return conn

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (:func:`gateway.store.readonly.reader`): the queries behind the
        kiosk's pages run on it, so that none of them can change the store. On a ``readonly`` store, :attr:`conn`."""
        if self.readonly:
            return self.conn
        conn: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if conn is None:
            self.conn  # noqa: B018  (the read-write connection first: it makes the WAL's -shm file)
            conn = self._local.reader = self._track(readonly.reader(self.path))
        return conn

    def _track(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """Keep ``conn``, this thread's, for :meth:`close`; close the connections of threads that have ended.

        A thread's connections would otherwise stay open as long as the store, each with its page cache,
        schema and prepared statements, while nothing can use them any more: a process that uses the store
        from short-lived threads (the sync's prefetch thread is new in every round that sends a full batch)
        grew by a connection per thread, to hundreds in a day (bench/field.py). A thread counts as ended when
        it is no longer among :func:`threading.enumerate`'s (never this thread, never the main thread, which
        Python marks stopped before its ``atexit`` handlers run); connections another process opened (before
        a fork) are left alone. As ever, a thread's connections, and cursors on them, serve that thread only.
        """
        this, pid = threading.current_thread(), os.getpid()
        with self._lock:
            living = {*threading.enumerate(), this, threading.main_thread()}
            ended = [old for thread, opener, old in self._conns if opener == pid and thread not in living]
            self._conns = [entry for entry in self._conns if entry[1] != pid or entry[0] in living]
            self._conns.append((this, pid, conn))
        for old in ended:
            old.close()
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction on :attr:`reader` around several reads (they see one state of the store);
        ended before the caller does any network I/O."""
        with db.snapshot(self.reader) as conn:
            yield conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a read on :attr:`reader` as dicts keyed by column name (sqlite-utils' ``query``): for the
        operator's pages and the command line's listings, where a readable query beats a few microseconds. The
        measured hot paths (the kiosk's public pages, the writer, the uplink) use the cursor directly.

        sqlite-utils is imported here, on first use, not with the store: it costs every process that imports it
        about 12 MB of memory (measured; bench/field.py), which the ingest and the sync never need."""
        import sqlite_utils  # (see above)

        database = sqlite_utils.Database(self.reader, recursive_triggers=False, execute_plugins=False)
        return list(database.query(sql, params))

    def writer(self, commit_interval_s: float = 0.0) -> ReadingWriter:
        """The (started) group-commit writer of readings; one per Store (``commit_interval_s`` applies when
        this call creates it: see :class:`ReadingWriter`)."""
        with self._lock:
            if self._writer is None:
                self._writer = ReadingWriter(
                    self.path,
                    budget_bytes=self.budget_bytes,
                    clock=self.clock,
                    commit_interval_s=commit_interval_s,
                ).start()
            return self._writer

    def close(self) -> None:
        """Stop the writer and close every connection of every thread (idempotent)."""
        with self._lock:
            writer, self._writer = self._writer, None
            conns, self._conns = self._conns, []
        if writer is not None:
            writer.close()
        for _thread, _pid, conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrations_pending(self) -> list[str]:
        """The names of the migrations this store has not had yet (none: it is current)."""
        return db.pending_migrations(self.conn)

    # -- meta ------------------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """The value kept under ``key`` in meta, else ``default``."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Keep ``value`` under ``key`` in meta (None: forget the key)."""
        with db.transaction(self.conn):
            if value is None:
                self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # -- the clock offset the sync side learned (gateway/store/clock.py) -------------------------------------
    def clock_offset(self) -> int | None:
        """What the sync side learned the gateway clock to be off by (ms to add), None if not known good:
        never learned, or learned before the wall clock was stepped or the gateway rebooted."""
        return learned_offset(self.conn, self.clock)

    def learned_clock(self) -> Learned:
        """The clock offset as kept in meta, whether it still holds or not."""
        return read_learned(self.conn)

    def save_clock_offset(self, values: dict[str, str]) -> None:
        """Keep a learned offset: ``values`` has exactly the keys of :data:`gateway.store.clock.META_KEYS`
        (one transaction). Raises StoreError for other keys."""
        if set(values) != set(META_KEYS):
            raise StoreError(f"a learned clock offset has the keys {', '.join(META_KEYS)}")
        with db.transaction(self.conn, "saving the clock offset"):
            self.conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    def drop_clock_offset(self) -> None:
        """Forget the learned offset (it no longer holds); when it was learned stays, for the step's size."""
        with db.transaction(self.conn, "dropping the clock offset"):
            self.conn.execute("DELETE FROM meta WHERE key = 'clock_offset_ms'")

    # -- checkpoints and size --------------------------------------------------------------------------------
    def settle_checkpoint(self, wait_ms: int = db.CHECKPOINT_WAIT_MS) -> bool:
        """Complete an owed TRUNCATE checkpoint (after a purge, or a relayed status lookup forgotten); True when
        none is owed any more, False while a reader's snapshot is in the way (see :func:`db.settle_checkpoint`).
        """
        return db.settle_checkpoint(self.conn, wait_ms)

    def used_bytes(self) -> int:
        """Bytes the store's file uses (pages in use times the page size)."""
        return retention.used_bytes(self.reader)

    def enforce_budget(self) -> dict[str, int]:
        """Keep the store within its budget (gateway/store/retention.py): ``{"synced", "thinned"}`` rows dropped."""
        if not self.budget_bytes:
            return {"synced": 0, "thinned": 0}
        return retention.enforce_budget(self.conn, self.budget_bytes)
