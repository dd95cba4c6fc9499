"""The gateway's store: one SQLite file (WAL) shared by the ingest, the kiosk and the sync processes.

- Readings and node state are written by ONE :class:`~gateway.store.writer.ReadingWriter` per file (group
  commit, acknowledged after commit).
- Citizens' submissions are written on their own connection with ``synchronous=FULL``: a receipt number
  means saved, even through a power cut.
- The sync side reads a batch of a stream after its acknowledged seq (a short read transaction, ended before
  any network call), then marks the stream acknowledged through a seq.

See docs/architecture.md for the tables and who writes what.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import uuid as uuid_mod
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway import private, regno, statuscode
from gateway.errors import StoreError, StoreMissingError, StoreNeedsUpgradeError
from gateway.store import db, readonly, retention
from gateway.store.clock import SYSTEM_CLOCK, SystemClock, learned_offset
from gateway.store.writer import ReadingWriter
from gateway.vocabulary import STREAMS, SUBMISSION_KINDS, Stream

__all__ = ["Store", "ReadingWriter", "STREAMS", "iso_utc"]


def iso_utc(ms: int) -> str:
    """ISO 8601 UTC with a Z, second precision unless the milliseconds matter."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _attachments(value: Any) -> list[dict[str, Any]]:
    """The well-formed entries of an answer's attachment list from the central (``{"name", "sha256",
    "size"}``); anything else is left out, so that a bad entry never names a file path."""
    out = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        sha256, size = item.get("sha256"), item.get("size")
        if isinstance(sha256, str) and _SHA256_RE.fullmatch(sha256) and isinstance(size, int) and size >= 0:
            out.append({"name": str(item.get("name") or sha256[:12])[:200], "sha256": sha256, "size": size})
    return out


def _dead_letter_json(stream: str, record: Mapping[str, Any]) -> str:
    """A refused record as ASCII JSON (holds any text), a submission's personal data left out."""
    if stream == "submissions":
        record = {key: value for key, value in record.items() if key != "personal"}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


def _safe_text(text: str) -> str:
    """Text that SQLite can store as UTF-8: what cannot be encoded (lone surrogates) shown as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Store:
    """Open with :meth:`open`; thread-safe (a connection per thread); :meth:`close` is idempotent.

    ``clock`` is what records are stamped with and what the learned offset is checked against (see
    :mod:`gateway.store.clock`); tests inject one. ``readonly`` opens every connection with
    :func:`gateway.store.readonly.connect`: reads only, and nothing on disk changes (the technician's tools).
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
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ReadingWriter | None = None

    @classmethod
    def open(
        cls, path: Path | str, *, budget_bytes: int | None = None, clock: SystemClock = SYSTEM_CLOCK
    ) -> Store:
        """Open (creating and migrating if needed) the store at ``path``."""
        path = Path(path)
        try:
            private.ensure_dir(path.parent)
        except OSError as err:
            raise StoreError(f"cannot create {path.parent}: {err.strerror}") from err
        store = cls(path, budget_bytes=budget_bytes, clock=clock)
        db.migrate(store.conn)
        return store

    @classmethod
    def from_config(cls, cfg: Any, clock: SystemClock | None = None) -> Store:
        return cls.open(
            cfg.store_path, budget_bytes=int(cfg.gateway.store_budget_mb) << 20, clock=clock or SYSTEM_CLOCK
        )

    @classmethod
    def open_existing(
        cls, path: Path | str, *, budget_bytes: int | None = None, clock: SystemClock = SYSTEM_CLOCK
    ) -> Store:
        """Open the store at ``path`` as it is: never created, never migrated (read-only commands and tools).

        Raises StoreMissingError when there is no store, StoreNeedsUpgradeError when it is older than this
        release (only ``anjungan upgrade`` migrates, after a backup: docs/deploy.md), StoreError when it cannot
        be read.
        """
        path = Path(path)
        if not path.is_file():
            raise StoreMissingError(f"no store at {path} (create it with `anjungan init`)")
        conn = db.connect(path, readonly=True)
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
    def existing_from_config(cls, cfg: Any, clock: SystemClock | None = None) -> Store:
        """:meth:`open_existing` for the store of configuration ``cfg``."""
        return cls.open_existing(
            cfg.store_path, budget_bytes=int(cfg.gateway.store_budget_mb) << 20, clock=clock or SYSTEM_CLOCK
        )

    # -- connections -----------------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (synchronous=NORMAL)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            opened = readonly.connect(self.path) if self.readonly else db.connect(self.path)
            conn = self._local.conn = self._track(opened)
        return conn

    @property
    def durable_conn(self) -> sqlite3.Connection:
        """This thread's connection with synchronous=FULL, for citizens' submissions."""
        conn = getattr(self._local, "durable", None)
        if conn is None:
            conn = self._local.durable = self._track(db.connect(self.path, synchronous="FULL"))
        return conn

    def _track(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        with self._lock:
            self._conns.append(conn)
        return conn

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
        with self._lock:
            writer, self._writer = self._writer, None
            conns, self._conns = self._conns, []
        if writer is not None:
            writer.close()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ------------------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str | None) -> None:
        with db.transaction(self.conn):
            if value is None:
                self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def clock_offset(self) -> int | None:
        """What the sync side learned the gateway clock to be off by (ms to add), None if not known good:
        never learned, or learned before the wall clock was stepped or the gateway rebooted."""
        return learned_offset(self.conn, self.clock)

    # -- readings --------------------------------------------------------------------------------------------
    _READINGS_SQL = (
        "SELECT r.seq, n.node, f.boot, f.q, m.name, r.value, f.at, f.offset FROM readings r "
        "JOIN frames f ON f.id = r.frame_id JOIN nodes n ON n.id = f.node_id JOIN names m ON m.id = r.name_id"
    )

    def readings(self, node: str | None = None, since_ms: int | None = None) -> Iterator[dict[str, Any]]:
        """Stored readings in store order, as contract rows (node, boot, seq, name, value, received_at)."""
        where, args = ["r.seq > ?"], [0]
        if node is not None:
            where.append("n.node = ?")
            args.append(node)  # type: ignore[arg-type]
        if since_ms is not None:
            where.append("f.at >= ?")
            args.append(since_ms)
        last = 0
        while True:  # pages, so that no read transaction stays open while the caller prints
            args[0] = last
            rows = self.conn.execute(
                f"{self._READINGS_SQL} WHERE {' AND '.join(where)} ORDER BY r.seq LIMIT 5000", args
            ).fetchall()
            for _seq, node_id, boot, q, name, value, at, _offset in rows:
                yield {"node": node_id, "boot": boot, "seq": q, "name": name, "value": value,
                       "received_at": iso_utc(at)}  # fmt: skip
            if len(rows) < 5000:
                return
            last = rows[-1][0]

    def latest(self) -> list[dict[str, Any]]:
        """The latest value of every (node, measurement), with when it arrived (ms)."""
        rows = self.conn.execute(
            "SELECT n.node, m.name, l.value, l.at FROM latest l JOIN nodes n ON n.id = l.node_id "
            "JOIN names m ON m.id = l.name_id ORDER BY n.node, m.name"
        )
        return [{"node": r[0], "name": r[1], "value": r[2], "at": r[3]} for r in rows]

    def knows_measurement(self, node: str, name: str) -> bool:
        """Whether node ``node`` has ever sent measurement ``name`` (it has a latest value), e.g. before a chart
        of it is drawn: a node or name the store does not know has no chart."""
        row = self.conn.execute(
            "SELECT 1 FROM latest l JOIN nodes n ON n.id = l.node_id JOIN names m ON m.id = l.name_id "
            "WHERE n.node = ? AND m.name = ?",
            (node, name),
        ).fetchone()
        return row is not None

    def series(self, node: str, name: str, since_ms: int) -> list[dict[str, Any]]:
        """5-minute aggregates (start ms, mean, low, high, count) of one measurement since ``since_ms``."""
        from gateway.store.writer import SERIES_BUCKET_MS

        rows = self.conn.execute(
            "SELECT s.bucket, s.total / s.n, s.low, s.high, s.n FROM series s "
            "JOIN nodes n ON n.id = s.node_id JOIN names m ON m.id = s.name_id "
            "WHERE n.node = ? AND m.name = ? AND s.bucket >= ? ORDER BY s.bucket",
            (node, name, since_ms // SERIES_BUCKET_MS),
        )
        return [
            {"at": b * SERIES_BUCKET_MS, "mean": mean, "low": low, "high": high, "n": n}
            for b, mean, low, high, n in rows
        ]

    def nodes(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM nodes ORDER BY node")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def console(self, source: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT at, line FROM console WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        ).fetchall()
        return [{"at": at, "line": line} for at, line in reversed(rows)]

    # -- events ----------------------------------------------------------------------------------------------
    def add_event(self, kind: str, data: Mapping[str, Any] | None = None, node: str | None = None) -> int:
        """Record an event (it syncs to the central); returns its seq."""
        with db.transaction(self.conn, "saving an event"):
            cur = self.conn.execute(
                "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
                (self.clock.now_ms(), self.clock_offset(), node, kind, _json(dict(data or {}))),
            )
        return int(cur.lastrowid or 0)

    def events(self, after: int = 0, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, offset, node, kind, data FROM events WHERE seq > ?"
        args: list[Any] = [after]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        rows = self.conn.execute(sql + " ORDER BY seq LIMIT ?", (*args, limit))
        return [
            {"seq": s, "at": at, "offset": off, "node": n, "kind": k, "data": json.loads(d)}
            for s, at, off, n, k, d in rows
        ]

    # -- submissions -----------------------------------------------------------------------------------------
    def add_submission(
        self,
        kind: str,
        public: Mapping[str, Any],
        personal: Mapping[str, Any] | None,
        *,
        gateway_id: str,
        due_date: date | None,
        day: date | None = None,
        idempotency_key: str | None = None,
        code: str | None = None,
    ) -> dict[str, Any]:
        """Save a citizen's submission durably (synchronous=FULL) and give it its registration number.

        ``kind`` is one of :data:`~gateway.vocabulary.SUBMISSION_KINDS`; the status starts as ``received``.

        The number's daily ordinal is counted inside the same ``BEGIN IMMEDIATE`` transaction, so two kiosk
        threads or processes never hand out the same number. The submission also gets its status code
        (:mod:`gateway.statuscode`): ``code`` when given (canonical; the kiosk derives it from the form's key, so
        that a repeat shows the same one), else a fresh random one; only its hash is stored and travels to the
        central. ``idempotency_key`` (a string of at most 64 characters, e.g. the random key of a served form) makes the
        call idempotent: the key is looked up in that same transaction, and a repeat (a double tap, a resend
        after a slow answer, concurrent or not) stores nothing and returns the first submission under that key.
        Returns the stored record (without personal data) with ``repeat``: True when the key had been used
        already, and the status code under ``"code"`` — the one time it exists in the clear, for the receipt
        (on a repeat: ``code`` when it matches the stored hash, else None).

        Raises :class:`StoreError` for an unknown kind, a key that is too long or was used for another kind,
        or when the store cannot be written (:class:`StoreFullError` on a full disk).
        """
        if kind not in SUBMISSION_KINDS:
            raise StoreError(f"a submission's kind is one of {', '.join(SUBMISSION_KINDS)}, not {kind!r}")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 64:
            raise StoreError("an idempotency key has 1 to 64 characters")
        day = day or date.today()
        conn = self.durable_conn
        with db.transaction(conn, "saving the submission"):
            number = self._by_key(conn, idempotency_key, kind)
            repeat = number is not None
            if number is None:
                code = code or statuscode.new_code()
                number = self._insert(
                    conn, kind, public, personal, gateway_id, due_date, day, idempotency_key, code
                )
        if repeat and not (code and self.status_code_matches(number, code)):
            code = None
        record = self.submission(number)
        assert record is not None
        return {**record, "code": code, "repeat": repeat}

    def _by_key(self, conn: sqlite3.Connection, key: str | None, kind: str) -> str | None:
        """The number of the submission stored under idempotency ``key`` (None: none, or no key)."""
        if key is None:
            return None
        row = conn.execute(
            "SELECT number, kind FROM submissions WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is not None and row[1] != kind:
            raise StoreError(f"this idempotency key belongs to a {row[1]}, not to a {kind}")
        return str(row[0]) if row else None

    def _insert(self, conn: sqlite3.Connection, kind: str, public: Mapping[str, Any],
                personal: Mapping[str, Any] | None, gateway_id: str, due_date: date | None,
                day: date, key: str | None, code: str) -> str:  # fmt: skip
        """Insert one submission with the next number of ``day`` and the hash of its status code ``code``
        (inside the caller's transaction)."""
        ordinal = conn.execute(
            "SELECT count(*) FROM submissions WHERE day = ?", (day.isoformat(),)
        ).fetchone()
        number = regno.make(gateway_id, day, int(ordinal[0]) + 1)
        conn.execute(
            "INSERT INTO submissions (uuid, number, kind, day, at, offset, due_date, public, personal, status, "
            "access_hash, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?)",
            (str(uuid_mod.uuid4()), number, kind, day.isoformat(), self.clock.now_ms(), self.clock_offset(),
             due_date.isoformat() if due_date else None, _json(dict(public)),
             _json(dict(personal)) if personal is not None else None,
             statuscode.access_hash(number, code), key),
        )  # fmt: skip
        return number

    _SUBMISSION_COLUMNS = (
        "seq, uuid, number, kind, day, at, due_date, status, answer, answered_at, updated_at, public, due_kind, "
        "attachments"
    )

    def submission(self, number: str) -> dict[str, Any] | None:
        """A submission by its registration number — never its personal data."""
        cur = self.conn.execute(
            f"SELECT {self._SUBMISSION_COLUMNS} FROM submissions WHERE number = ?", (number,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        record = dict(zip(self._SUBMISSION_COLUMNS.split(", "), row, strict=True))
        record["public"] = json.loads(record["public"])
        record["attachments"] = json.loads(record["attachments"]) if record["attachments"] else []
        return record

    def status_code_matches(self, number: str, code: str | None) -> bool:
        """Whether ``code`` (as typed) is the status code of this gateway's submission ``number``."""
        row = self.conn.execute("SELECT access_hash FROM submissions WHERE number = ?", (number,)).fetchone()
        return row is not None and statuscode.matches(number, code, row[0])

    def purge_personal(self, through_seq: int) -> int:
        """Drop the personal data of submissions the central has stored: seq <= ``through_seq`` (acknowledged)
        except the dead letters, which the central refused (their seqs are below its acked seq all the same).

        Purged means gone from the disk, not only from queries: every connection runs with ``secure_delete``
        (the old row's bytes are zeroed in its page), and the purge records in the same transaction that a
        TRUNCATE checkpoint is owed (meta ``checkpoint_owed``), then tries it at once; a reader holding a
        snapshot makes it give up, and the debt stays until :meth:`settle_checkpoint` completes one (the sync
        process tries every round and every few seconds while idle), so the pages that held the data leave
        the ``-wal`` file too. Returns how many submissions lost their personal data.
        """
        with db.transaction(self.durable_conn, "purging personal data"):
            cur = self.durable_conn.execute(
                "UPDATE submissions SET personal = NULL, purged_at = ? WHERE seq <= ? AND personal IS NOT NULL "
                "AND seq NOT IN (SELECT seq FROM dead_letters WHERE stream = 'submissions')",
                (db.now_ms(), through_seq),
            )
            if cur.rowcount:
                db.owe_checkpoint(self.durable_conn)
        if cur.rowcount:
            with contextlib.suppress(StoreError):  # the debt stays recorded: the sync process tries again
                db.settle_checkpoint(self.durable_conn)
        return cur.rowcount

    def settle_checkpoint(self, wait_ms: int = db.CHECKPOINT_WAIT_MS) -> bool:
        """Complete an owed TRUNCATE checkpoint (after a purge, or a relayed status lookup forgotten); True when
        none is owed any more, False while a reader's snapshot is in the way (see :func:`db.settle_checkpoint`).
        """
        return db.settle_checkpoint(self.conn, wait_ms)

    # -- outbox (the sync side) ------------------------------------------------------------------------------
    def acked(self, stream: str) -> int:
        row = self.conn.execute("SELECT acked FROM sync_state WHERE stream = ?", (stream,)).fetchone()
        if row is None:
            raise StoreError(f"unknown stream {stream!r}")
        return int(row[0])

    def highest_seq(self, stream: str) -> int:
        """The highest seq this store ever gave a record of ``stream`` (0 when none): AUTOINCREMENT's counter,
        which counts records that retention has evicted since. Raises StoreError for an unknown stream."""
        if stream not in STREAMS:
            raise StoreError(f"unknown stream {stream!r}")
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (stream,)).fetchone()
        return int(row[0]) if row else 0

    def outbox(self, stream: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The next records of ``stream`` after its acknowledged seq (dead letters left out), oldest first.

        The read transaction ends before this returns: do the network call afterwards.
        """
        with db.snapshot(self.conn) as conn:
            after = self.acked(stream)
            dead = "AND {col} NOT IN (SELECT seq FROM dead_letters WHERE stream = '{stream}')"
            if stream == "readings":
                rows = conn.execute(
                    f"{self._READINGS_SQL} WHERE r.seq > ? {dead.format(col='r.seq', stream=stream)} "
                    "ORDER BY r.seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "node": n, "boot": b, "q": q, "name": m, "value": v, "at": at, "offset": off}
                    for s, n, b, q, m, v, at, off in rows
                ]
            if stream == "events":
                rows = conn.execute(
                    "SELECT seq, at, offset, node, kind, data FROM events WHERE seq > ? "
                    f"{dead.format(col='seq', stream=stream)} ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "at": at, "offset": off, "node": n, "kind": k, "data": json.loads(d)}
                    for s, at, off, n, k, d in rows
                ]
            if stream == "submissions":
                rows = conn.execute(
                    "SELECT seq, uuid, number, kind, at, offset, due_date, public, personal, access_hash "
                    f"FROM submissions WHERE seq > ? {dead.format(col='seq', stream=stream)} ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "uuid": u, "number": num, "kind": k, "at": at, "offset": off, "due_date": due,
                     "public": json.loads(pub), "personal": json.loads(per) if per is not None else None,
                     **({"access": acc} if acc else {})}
                    for s, u, num, k, at, off, due, pub, per, acc in rows
                ]  # fmt: skip
        raise StoreError(f"unknown stream {stream!r}")

    def mark_acked(self, stream: str, seq: int) -> None:
        """The central has committed ``stream`` through ``seq``; never moves backwards. The stream's count of
        failures in a row starts again (its head has moved)."""
        with db.transaction(self.conn, "recording the sync"):
            self.conn.execute(
                "UPDATE sync_state SET acked = max(acked, ?), last_success = ?, failures = 0, failing_seq = NULL "
                "WHERE stream = ?",
                (seq, db.now_ms(), stream),
            )

    def note_failure(self, stream: str, first_seq: int, message: str | None = None) -> int:
        """A batch of ``stream`` starting at ``first_seq`` failed; answer how many times in a row a batch
        starting there has failed (kept in the store, so that restarts do not forget it). ``message``, when
        given, becomes the stream's last error in the same transaction (as :meth:`record_sync_error`)."""
        with db.transaction(self.conn, "recording a sync failure"):
            self.conn.execute(
                "UPDATE sync_state SET failures = CASE WHEN failing_seq = ? THEN failures + 1 ELSE 1 END, "
                "failing_seq = ? WHERE stream = ?",
                (first_seq, first_seq, stream),
            )
            if message is not None:
                self.conn.execute(
                    "UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE stream = ?",
                    (_safe_text(message), db.now_ms(), stream),
                )
            row = self.conn.execute("SELECT failures FROM sync_state WHERE stream = ?", (stream,)).fetchone()
        return int(row[0])

    def record_sync_error(self, stream: str, message: str) -> None:
        with db.transaction(self.conn, "recording a sync error"):
            self.conn.execute(
                "UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE stream = ?",
                (_safe_text(message), db.now_ms(), stream),
            )

    STANDING_ERROR = "the central has more of this stream than this store"  # a state, not an event (uplink)

    def clear_sync_errors(self) -> None:
        """Forget every stream's last error: a round just sent all there was, so none of them is current —
        except a standing condition that no round clears by itself (:data:`STANDING_ERROR`: this store is
        behind the central, docs/sync.md "A replaced store")."""
        with db.transaction(self.conn, "clearing sync errors"):
            self.conn.execute(
                "UPDATE sync_state SET last_error = NULL, last_error_at = NULL "
                "WHERE last_error IS NOT NULL AND substr(last_error, 1, ?) != ?",
                (len(self.STANDING_ERROR), self.STANDING_ERROR),
            )

    def dead_letter(self, stream: str, records: list[dict[str, Any]], reason: str) -> None:
        """Set records the central refused aside with the reason; they no longer block their stream.

        Any record can be set aside: it is kept as ASCII JSON (text that cannot be encoded, such as a lone
        surrogate, as its ``\\uXXXX`` escape). A submission is kept without its personal data, which stays in
        ``submissions`` (not purged: the central does not have it). Setting aside a record again (a retry
        refused again) replaces the reason, counts the attempt and ends the retry request.
        """
        now = db.now_ms()
        with db.transaction(self.conn, "saving dead letters"):
            self.conn.executemany(
                "INSERT INTO dead_letters (stream, seq, at, reason, record) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (stream, seq) DO UPDATE SET at = excluded.at, reason = excluded.reason, "
                "retry_at = NULL, attempts = attempts + 1",
                [(stream, r["seq"], now, _safe_text(reason), _dead_letter_json(stream, r)) for r in records],
            )

    def backlog(self) -> dict[str, dict[str, Any]]:
        """Per stream: unsynced count, oldest unsynced record's time (ms), acked seq, last success, last error."""
        table = {Stream.READINGS: ("readings r JOIN frames f ON f.id = r.frame_id", "r.seq", "f.at"),
                 Stream.EVENTS: ("events", "seq", "at"), Stream.SUBMISSIONS: ("submissions", "seq", "at")}  # fmt: skip
        out = {}
        with db.snapshot(self.conn) as conn:
            for stream, acked, last_success, last_error, last_error_at in conn.execute(
                "SELECT stream, acked, last_success, last_error, last_error_at FROM sync_state"
            ).fetchall():
                source, seq_col, at_col = table[stream]
                count, oldest = conn.execute(
                    f"SELECT count(*), min({at_col}) FROM {source} WHERE {seq_col} > ? "
                    f"AND {seq_col} NOT IN (SELECT seq FROM dead_letters WHERE stream = ?)",
                    (acked, stream),
                ).fetchone()
                dead = conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE stream = ?", (stream,)
                ).fetchone()[0]
                out[stream] = {"pending": count, "oldest_at": oldest, "acked": acked, "dead_letters": dead,
                               "last_success": last_success, "last_error": last_error,
                               "last_error_at": last_error_at}  # fmt: skip
        return out

    # -- content from the central (downlink) -----------------------------------------------------------------
    def apply_changes(self, changes: list[Mapping[str, Any]], cursor: str) -> int:
        """Apply one page of changes and store the new cursor, in one transaction; applying twice is harmless."""
        now = db.now_ms()
        with db.transaction(self.conn, "applying changes from the central"):
            for change in changes:
                kind, key, op = change["kind"], str(change["id"]), change.get("op", "upsert")
                data = change.get("data") or {}
                if kind == "submission":
                    documents = data.get("attachments")
                    self.conn.execute(
                        "UPDATE submissions SET status = coalesce(?, status), answer = coalesce(?, answer), "
                        "answered_at = coalesce(?, answered_at), due_date = coalesce(?, due_date), "
                        "due_kind = coalesce(?, due_kind), attachments = coalesce(?, attachments), "
                        "updated_at = ? WHERE number = ?",
                        (data.get("status"), data.get("answer"), data.get("answered_at"), data.get("due_date"),
                         data.get("due_kind"), None if documents is None else _json(_attachments(documents)),
                         now, key),
                    )  # fmt: skip
                elif op == "delete":
                    self.conn.execute("DELETE FROM content WHERE kind = ? AND id = ?", (kind, key))
                else:
                    self.conn.execute(
                        "INSERT INTO content (kind, id, data, updated_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                        (kind, key, _json(data), now),
                    )
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('changes_cursor', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (cursor,),
            )
        return len(changes)

    def content(self, kind: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, data, updated_at FROM content WHERE kind = ? ORDER BY id", (kind,)
        )
        return [{"id": i, **json.loads(d), "updated_at": u} for i, d, u in rows]

    def content_item(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM content WHERE kind = ? AND id = ?", (kind, key)).fetchone()
        return {"id": key, **json.loads(row[0])} if row else None

    # -- size ------------------------------------------------------------------------------------------------
    def used_bytes(self) -> int:
        return retention.used_bytes(self.conn)

    def enforce_budget(self) -> dict[str, int]:
        if not self.budget_bytes:
            return {"synced": 0, "thinned": 0}
        return retention.enforce_budget(self.conn, self.budget_bytes)
