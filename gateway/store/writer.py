"""The one writer of readings and node state: a thread fed by a queue, committing in groups.

Producers (serial readers, the MQTT reader) call :meth:`ReadingWriter.submit` and get a Future that is
resolved only after the transaction holding their frames has committed — an acknowledgement means saved.
Whatever is queued while a commit runs goes into the next one, so a busy writer commits large groups and an
idle one commits at once: a batch is committed well within 100 ms of its arrival. With a ``commit_interval_s``
(the ingest's ``[gateway] commit_interval_s``), a writer at a low rate instead gathers frames for up to that
long after the first one of a group, or until ``GATHER_FRAMES`` are waiting, and commits them together: each
commit writes every page it touches (the frames, readings, latest values, 5-minute aggregates and node rows)
to the WAL whatever it holds, so ten frames a minute committed one by one write ten times the bytes of the
same frames committed once a minute (bench/field.py). Acknowledgements still follow the commit. Frames
submitted ``urgent`` (kept nowhere else: the ingest could not journal them, or it saves what a dead ingest
journaled) end the gathering: their group commits at once.

Faults are told apart by their cause:

- The store cannot be written right now (another process holds the write lock beyond the busy timeout, the
  disk is full, an I/O error): the writer keeps the group and tries again with pauses of 0.1 s doubling to
  2 s, until it commits. Nothing is dropped and no Future resolves meanwhile; the queue is bounded
  (``max_queued`` frames), so producers wait (back-pressure) instead of filling the memory.
- A record cannot be written at all (text with a lone surrogate, a number beyond SQLite's range, a NaN): the
  group is written again item by item, and a failing item frame by frame, each in a SAVEPOINT; the refused
  frames are kept in their node's console log and counted as bad lines, their Future fails with
  :class:`~gateway.errors.StoreRefusedError` (which says how many frames of it were saved), and the rest of the
  group commits.

Time: frames are stamped (``at``) with the wall clock when submitted, together with the clock epoch of that
moment; a frame carries the learned offset only when the offset holds in that epoch (see
:mod:`gateway.store.clock`), read from meta at every commit, so a freshly started writer knows it before its
first commit and a step of the wall clock stops it at once. Which reading is the latest of a node, and when a
node was last seen, never come from comparing wall-clock stamps: the latest is the newest by the node's own
order (boot, q), and last seen is the arrival time of its last frame.
"""

from __future__ import annotations

import bisect
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from gateway.backoff import Backoff
from gateway.errors import StoreError, StoreFullError, StoreRefusedError
from gateway.frame import Frame
from gateway.store import db
from gateway.store.clock import SYSTEM_CLOCK, Learned, SystemClock, read_learned
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

SERIES_BUCKET_MS = 300_000  # charts are drawn from 5-minute aggregates
CONSOLE_KEEP = 200  # console lines kept per source
MAX_GROUP = 20_000  # frames per transaction at most
GATHER_FRAMES = 16  # with a commit interval: a group with this many awaited frames commits at once (an MQTT
# broker's in-flight window is 20 messages by default: its PUBACKs must not wait out the interval)
GATHER_MAX = 512  # ... and one this large whatever it holds (frames kept in the ingest's journal meanwhile)
MAX_QUEUED = 50_000  # frames (and console lines) waiting for the writer before producers wait
RETRY_FIRST_S = 0.1  # pause after a failed attempt to commit, doubled each time ...
RETRY_MAX_S = 2.0  # ... up to this: a store that can be written again is used within seconds
HOUSEKEEPING_S = 5.0
_ROWS_PER_STATEMENT = 1000  # rows per multi-row INSERT (bounded by SQLite's variable limit too)
_FRAMES_INTO = "frames (id, node_id, boot, q, at, offset)"


_HELLO_FIELDS = ("fw", "up_s", "mem_free", "rssi", "bat_v")


def _storable(value: object) -> str | int | float | None:
    """A hello field as a value SQLite can hold; anything odd a node sends becomes NULL, never an error."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(value, int) and not -(1 << 63) <= value < 1 << 63:
        return None
    return value


# SQLite's primary result codes that say the store cannot be written right now, whatever is being written:
# another connection holds a lock, the disk is full, the file cannot be read or written. Any other error is
# taken to come from the records (a binding, a constraint, a value out of range) and is isolated.
_NOT_NOW = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_INTERRUPT,
    sqlite3.SQLITE_PERM,
}


def _sqlite_code(err: BaseException) -> int | None:
    """The primary SQLite result code behind ``err`` (itself or its causes), None if there is none."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, sqlite3.Error):
            code = getattr(seen, "sqlite_errorcode", None)
            if code is None:
                return sqlite3.SQLITE_ERROR
            return int(code) & 0xFF
        seen = seen.__cause__
    return None


def _not_now(err: BaseException) -> bool:
    """True when ``err`` says the store cannot be written right now (retry), not that a record is bad."""
    return isinstance(err, StoreFullError) or _sqlite_code(err) in _NOT_NOW


def _busy(err: BaseException) -> bool:
    """Another connection holds the lock: the attempt has already waited the busy timeout."""
    return _sqlite_code(err) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _text(value: str) -> str:
    """``value`` as text SQLite can hold: a lone surrogate becomes its escape (``\\ud800``)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(frame: Frame) -> str:
    """A frame as one line of JSON for the console log, whatever it holds."""
    obj = {"k": frame.kind, "n": frame.node, "b": frame.boot, "q": frame.seq}
    if frame.values:
        obj["r"] = frame.values
    obj.update(frame.extra)
    return _text(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=repr))[:1000]


def _urgent(item: _Frames | _Console) -> bool:
    return isinstance(item, _Frames) and item.urgent


def _weight(item: _Frames | _Console) -> int:
    return len(item.frames) if isinstance(item, _Frames) else 1


def _awaited(item: _Frames | _Console) -> int:
    return len(item.frames) if isinstance(item, _Frames) and item.awaited else 0


@lru_cache(maxsize=64)
def _insert_sql(into: str, width: int, rows: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return f"INSERT INTO {into} VALUES " + ",".join([row] * rows)


@lru_cache(maxsize=256)
def _readings_sql(name_ids: tuple[int, ...], frames: int) -> str:
    """One multi-row INSERT for ``frames`` frames carrying measurements ``name_ids`` (bound: frame id and
    the values of each frame; the name ids are written into the statement)."""
    width = 1 + len(name_ids)
    rows = [
        f"(?{base + 1},{name_id},?{base + 2 + i})"
        for base in range(0, frames * width, width)
        for i, name_id in enumerate(name_ids)
    ]
    return "INSERT INTO readings (frame_id, name_id, value) VALUES " + ",".join(rows)


@dataclass
class _Frames:
    frames: Sequence[Frame]
    at: int
    source: str | None
    base: int  # the clock epoch (wall - monotonic, ms) when ``at`` was taken
    future: Future[int] = field(default_factory=Future)
    urgent: bool = False  # commit without gathering (its only safe place is the store)
    awaited: bool = True  # a sender waits for the commit to acknowledge them (an MQTT PUBACK)


@dataclass
class _Console:
    source: str
    line: str
    at: int
    node: str | None
    future: Future[int] = field(default_factory=Future)


@dataclass
class _Batch:
    """The rows one group adds, flattened for multi-row INSERTs."""

    next_frame_id: int
    frame_rows: list[Any] = field(default_factory=list)
    new_keys: list[tuple[_NodeState, int, int]] = field(default_factory=list)  # (node, boot, q) of new frames
    # measurement names -> (frame id, *values) of the frames that carry exactly these names, concatenated
    readings: dict[tuple[str, ...], list[Any]] = field(default_factory=dict)
    # (node id, 5-minute bucket, measurement names) -> [latest arrival, the frames' values in order]
    columns: dict[tuple[int, int, tuple[str, ...]], list[Any]] = field(default_factory=dict)
    # (node id, measurement names) -> (boot, q, arrival, values) of the newest frame by the node's order
    newest: dict[tuple[int, tuple[str, ...]], tuple[int, int, int, Any]] = field(default_factory=dict)


@dataclass
class _NodeState:
    id: int
    boot: int | None
    frames: int = 0
    last_seen: int = 0
    bad_lines: int = 0
    port: str | None = None
    hello: dict[str, object] | None = None
    # the node's newest interval of frame keys seen: [boot, low q, high q] (the rest are in frames_seen)
    seen: list[int] | None = None


class ReadingWriter:
    """Group-commit writer. ``start()`` it, ``submit()`` frames, ``close()`` it (idempotent).

    ``budget_bytes``: the store's size budget (enforced in the housekeeping); ``busy_timeout_ms``: how long one
    attempt waits for another process's write lock; ``max_queued``: frames (and console lines) that may wait
    for the writer before :meth:`submit` blocks; ``clock``: the wall and monotonic clocks (injected in tests);
    ``commit_interval_s``: how long a group may gather frames after its first one before it commits (0: at
    once; see the module's docstring). Closing commits what was gathered at once.

    Read-only figures for health views and tests: ``commits`` (transactions committed), ``stalls`` (attempts
    that failed because the store could not be written), ``stalled`` (why the writer cannot commit right now,
    None while it can), ``refused`` (frames refused for good), ``queued`` (frames waiting), ``waiting``
    (producers waiting for room in the queue).
    """

    def __init__(
        self,
        path: Path,
        *,
        budget_bytes: int | None = None,
        busy_timeout_ms: int = db.BUSY_TIMEOUT_MS,
        max_queued: int = MAX_QUEUED,
        clock: SystemClock = SYSTEM_CLOCK,
        commit_interval_s: float = 0.0,
    ):
        self.path = Path(path)
        self.commit_interval_s = max(0.0, float(commit_interval_s))
        self.budget_bytes = budget_bytes
        self.busy_timeout_ms = busy_timeout_ms
        self.max_queued = max_queued
        self.clock = clock
        self._boot_id = clock.boot_id()  # constant for as long as this process runs
        self._learned = Learned(None, None, None, None)
        self._queue: queue.SimpleQueue[_Frames | _Console | None] = queue.SimpleQueue()
        self._room = threading.Condition()  # guards _queued; producers wait on it while the queue is full
        self._queued = 0
        self.waiting = 0  # producers waiting for room in the queue right now
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._abandoned = False  # closed while the store could not be written: refuse the rest at once
        self._nodes: dict[str, _NodeState] = {}
        self._names: dict[str, int] = {}
        self._offset: int | None = None
        self._next_housekeeping = 0.0
        self.commits = 0
        self.stalls = 0
        self.stalled: str | None = None
        self.refused = 0
        self._trouble = WarnOnce(log, "store writer")  # one line when it stalls, one when it saves again

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> ReadingWriter:
        if self._thread is None:
            self._conn = db.connect(self.path, busy_timeout_ms=self.busy_timeout_ms)
            self._max_variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._thread = threading.Thread(target=self._run, name="anjungan-store-writer", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is None or self._closed.is_set():
            return
        self._closed.set()
        with self._room:
            self._room.notify_all()  # producers waiting for room give up
        self._queue.put(None)
        self._thread.join()
        self._conn.close()
        while True:  # anything that slipped in while closing is refused, never left pending
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.future.set_exception(StoreError("the store writer was closed before saving this"))

    def __enter__(self) -> ReadingWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers -------------------------------------------------------------------------------------------
    def submit(
        self,
        frames: Sequence[Frame],
        at: int | None = None,
        source: str | None = None,
        *,
        base: int | None = None,
        urgent: bool = False,
        awaited: bool = True,
    ) -> Future[int]:
        """Queue frames received together (``at``: arrival time, ms since the epoch, default now on
        :attr:`clock`; ``source``: the port or broker they came from; ``base``: the clock epoch, ms, when
        ``at`` was taken, default now on :attr:`clock`; ``urgent``: commit the group they join at once
        instead of gathering for ``commit_interval_s``, for frames kept nowhere else, e.g. those the ingest
        could not journal); ``awaited``: a sender acknowledges them only after their commit (an MQTT PUBACK),
        so GATHER_FRAMES of them end the gathering; False for frames kept elsewhere until then (the ingest's
        journal), which only GATHER_MAX bounds.

        The Future gives how many of them were new, after their commit; it fails with StoreRefusedError when
        some of them can never be stored (the rest are saved), with StoreError when the writer closes first.
        Blocks while ``max_queued`` frames already wait (back-pressure); raises StoreError if the writer is
        not running.
        """
        item = _Frames(
            frames,
            self.clock.now_ms() if at is None else at,
            source,
            self.clock.base_ms() if base is None else base,
            urgent=urgent,
            awaited=awaited,
        )
        self._put(item)
        return item.future

    @property
    def queued(self) -> int:
        """Frames (and console lines) submitted and not yet taken into a transaction."""
        return self._queued

    def write(self, frames: Sequence[Frame], at: int | None = None, timeout: float = 30.0) -> int:
        """Blocking :meth:`submit`: returns once the frames are committed.

        Raises StoreRefusedError if a frame can never be stored (the others are saved), StoreError if the
        writer closes first, TimeoutError if the store cannot be written within ``timeout`` seconds (the
        frames stay queued and are saved once it can).
        """
        return self.submit(frames, at).result(timeout)

    def console(self, source: str, line: bytes | str, node: str | None = None) -> Future[int]:
        """Keep a line that is not a frame in the console log of ``source`` (a port or a node id)."""
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else _text(line)
        item = _Console(source, text.rstrip("\r\n")[:1100], self.clock.now_ms(), node)
        self._put(item)
        return item.future

    def _put(self, item: _Frames | _Console) -> None:
        """Queue ``item``; while ``max_queued`` frames already wait, wait for room (back-pressure)."""
        weight = _weight(item)
        own_thread = threading.current_thread() is self._thread  # a Future's callback must never wait here
        with self._room:
            while True:
                if self._closed.is_set() or self._thread is None:
                    raise StoreError("the store writer is not running")
                if own_thread or not self._queued or self._queued + weight <= self.max_queued:
                    break
                self.waiting += 1
                try:
                    self._room.wait(0.5)
                finally:
                    self.waiting -= 1
            self._queued += weight
            self._queue.put(item)

    def _taken(self, group: Sequence[_Frames | _Console]) -> None:
        """The items of ``group`` left the queue: make room for the producers."""
        with self._room:
            self._queued -= sum(_weight(item) for item in group)
            self._room.notify_all()

    # -- the writer thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._housekeeping()
                continue
            if first is None:
                return
            group: list[_Frames | _Console] = [first]
            stop = self._drain(group)
            if not stop and self.commit_interval_s > 0 and not any(map(_urgent, group)):
                stop = self._gather(group, time.monotonic() + self.commit_interval_s)
            self._taken(group)
            self._commit(group)
            self._housekeeping()
            if stop:
                return

    def _drain(self, group: list[_Frames | _Console]) -> bool:
        count = 0
        while count < MAX_GROUP:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            group.append(item)
            count += len(item.frames) if isinstance(item, _Frames) else 1
        return False

    def _gather(self, group: list[_Frames | _Console], deadline: float) -> bool:
        """Add what arrives until ``deadline`` (monotonic), until GATHER_FRAMES awaited frames or GATHER_MAX frames
        in all wait; True when closing."""
        count = sum(_weight(item) for item in group)
        awaited = sum(_awaited(item) for item in group)
        while awaited < GATHER_FRAMES and count < GATHER_MAX and not self._closed.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                return True
            group.append(item)
            count += _weight(item)
            awaited += _awaited(item)
            if _urgent(item):
                break
        return False

    def _commit(self, group: list[_Frames | _Console]) -> None:
        """Commit ``group``: retried while the store cannot be written, bad records isolated (module doc)."""
        isolate = False
        pauses = Backoff(RETRY_FIRST_S, RETRY_MAX_S)
        results: list[int | StoreRefusedError] = []
        while True:
            if self._abandoned:
                self._fail(group, StoreError("the store writer was closed before saving this"))
                return
            try:
                with db.transaction(self._conn, "saving readings"):
                    # the nodes' rows are read again under this transaction's write lock: another writer of the
                    # store (`node flash`, a monitor storing what it reads, a second ingest) may have changed
                    # them since, and a row is written back only by the transaction that read it
                    self._nodes.clear()
                    if isolate:
                        results = self._store_isolated(group)
                    else:
                        results = [*self._store_group(group)]
                        self._flush_nodes()
            except Exception as err:
                self._forget()
                if not _not_now(err):
                    if not isolate:  # a record of the group cannot be written: find it, save the rest
                        log.warning("saving readings: %s: writing the group record by record", _reason(err))
                        isolate = True
                        continue
                    error = err if isinstance(err, StoreError) else StoreError(f"saving readings: {err}")
                    log.error("%s", error)  # not any one record's fault, and not the store's state
                    self._fail(group, error)
                    return
                self._stall(err)
                if self._closed.is_set():  # closing: one attempt only, never wait for the store
                    self._abandoned = True
                    self._fail(group, StoreError(f"the store writer was closed before saving this ({err})"))
                    return
                if _busy(err):  # the attempt waited the busy timeout already: try again soon
                    self._closed.wait(RETRY_FIRST_S)
                else:
                    self._closed.wait(pauses.next())
                continue
            break
        self.commits += 1
        if self.stalled is not None:
            self._trouble.recovered("saving again")
            self.stalled = None
        for item, result in zip(group, results, strict=True):
            if isinstance(result, StoreRefusedError):
                self.refused += len(result.refused)
                log.error("%s", result)
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _stall(self, err: BaseException) -> None:
        """Note a failed attempt: warn once when the writer stalls, quietly (debug) while it stays stalled."""
        self.stalls += 1
        reason = str(err) if isinstance(err, StoreError) else f"saving readings: {err}"
        self._trouble.failed(f"{reason}; the frames are held until they are saved")
        self.stalled = reason

    @staticmethod
    def _fail(group: list[_Frames | _Console], error: StoreError) -> None:
        for item in group:
            item.future.set_exception(error)

    def _forget(self) -> None:
        """Drop the cached node states and names: after a rollback they are read from the store again."""
        self._nodes.clear()
        self._names.clear()

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_S
        try:
            if self.budget_bytes:
                from gateway.store.retention import enforce_budget

                enforce_budget(self._conn, self.budget_bytes)
        except (sqlite3.Error, StoreError) as err:
            log.warning("store housekeeping failed: %s", err)

    # -- inside the transaction ------------------------------------------------------------------------------
    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A SAVEPOINT: rolled back (and the caches forgotten) if the block raises."""
        self._conn.execute("SAVEPOINT record")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:  # SQLite may have rolled the whole transaction back already
                try:
                    self._conn.execute("ROLLBACK TO record")
                    self._conn.execute("RELEASE record")
                except sqlite3.Error:
                    pass  # the original error tells more; the transaction is rolled back by the caller
            self._forget()
            raise
        self._conn.execute("RELEASE record")

    def _store_item(self, item: _Frames | _Console) -> int:
        [result] = self._store_group([item])
        self._flush_nodes()
        return result

    def _store_isolated(self, group: list[_Frames | _Console]) -> list[int | StoreRefusedError]:
        """Store the group item by item, a failing item frame by frame; refuse only what cannot be written."""
        results: list[int | StoreRefusedError] = []
        for item in group:
            try:
                with self._savepoint():
                    results.append(self._store_item(item))
                continue
            except Exception as err:
                if _not_now(err):
                    raise
                if isinstance(item, _Console):
                    results.append(
                        StoreRefusedError(f"console line of {item.source} refused: {_reason(err)}")
                    )
                    continue
            saved, refused = 0, []
            for frame in item.frames:
                try:
                    with self._savepoint():
                        saved += self._store_item(_Frames([frame], item.at, item.source, item.base))
                except Exception as err:
                    if _not_now(err):
                        raise
                    refused.append(f"frame {frame.node} #{frame.boot}/{frame.seq} ({_reason(err)})")
                    self._keep_refused(frame, item.at, _reason(err))
            if refused:
                message = f"refused by the store, kept in the console log: {'; '.join(refused)}"
                if saved:
                    message += f" (the other {saved} new frames of the batch are saved)"
                results.append(StoreRefusedError(message, saved=saved, refused=tuple(refused)))
            else:
                results.append(saved)
        return results

    def _keep_refused(self, frame: Frame, at: int, reason: str) -> None:
        """Keep a refused frame in its node's console log and count it as a bad line of the node."""
        line = _text(f"refused by the store ({reason}): {_describe(frame)}")
        try:
            with self._savepoint():
                self._store_console(_Console(frame.node, line, at, frame.node))
                self._flush_nodes()
        except Exception as err:
            if _not_now(err):
                raise
            log.error("store writer: cannot keep a refused frame in the console log: %s", _reason(err))

    def _store_group(self, group: list[_Frames | _Console]) -> list[int]:
        """Store a group: the frames of all its items in a few multi-row statements, console lines one by one."""
        known = self._known_keys([item for item in group if isinstance(item, _Frames)])
        self._learned = read_learned(self._conn)  # in this transaction: current for every item of the group
        batch = _Batch(self._next_frame_id())
        results = []
        for item in group:
            if isinstance(item, _Frames):
                results.append(self._collect_frames(item, known, batch))
            else:
                results.append(self._store_console(item))
        if batch.new_keys:
            self._remember(batch.new_keys)
        if batch.frame_rows:
            self._insert_rows(_FRAMES_INTO, 6, batch.frame_rows)
        for names, flat in batch.readings.items():
            self._insert_readings(names, flat)
        if batch.columns:
            self._aggregate(batch.columns, batch.newest)
        return results

    def _known_keys(self, items: list[_Frames]) -> set[tuple[int, int, int]]:
        """The (node id, boot, q) keys of this group's frames that the store already holds: the node's newest
        interval, and one query per (node, boot) for the intervals of ``frames_seen`` over the group's q."""
        wanted: dict[tuple[int, int], list[int]] = {}
        for item in items:
            for frame in item.frames:
                state = self._node(frame.node, item.at)
                wanted.setdefault((state.id, frame.boot), []).append(frame.seq)
        open_intervals = {state.id: state.seen for state in self._nodes.values() if state.seen is not None}
        known: set[tuple[int, int, int]] = set()
        for (node_id, boot), qs in wanted.items():
            low, high = min(qs), max(qs)
            spans = []
            newest = open_intervals.get(node_id)
            if newest is not None and newest[0] == boot:
                spans.append((newest[1], newest[2]))
            # the intervals are disjoint: by low descending, their highs descend too
            for first, last in self._conn.execute(
                "SELECT low, high FROM frames_seen WHERE node_id = ? AND boot = ? AND low <= ? ORDER BY low DESC",
                (node_id, boot, high),
            ):
                if last < low:
                    break
                spans.append((first, last))
            spans.sort()
            lows = [first for first, _last in spans]
            for q in qs:
                at = bisect.bisect_right(lows, q) - 1
                if at >= 0 and spans[at][1] >= q:
                    known.add((node_id, boot, q))
        return known

    def _remember(self, new: list[tuple[_NodeState, int, int]]) -> None:
        """Add the keys (node, boot, q) of this group's new frames to the intervals seen (exact, disjoint).

        A run of consecutive q that extends the node's newest interval only changes the node's row (written
        by :meth:`_flush_nodes` anyway); a run ahead of it (a gap, a new boot) makes it the newest and keeps
        the old one in ``frames_seen``; a run behind it (a late frame, an earlier boot) goes to
        ``frames_seen``, joined with the intervals it touches.
        """
        new.sort(key=lambda key: (key[0].id, key[1], key[2]))
        runs: list[list[Any]] = []
        for state, boot, q in new:
            if runs and runs[-1][0] is state and runs[-1][1] == boot and runs[-1][3] == q - 1:
                runs[-1][3] = q
            else:
                runs.append([state, boot, q, q])
        for state, boot, low, high in runs:
            seen = state.seen
            if seen is not None and seen[0] == boot and low == seen[2] + 1:
                seen[2] = high
            elif seen is not None and seen[0] == boot and high == seen[1] - 1:
                seen[1] = low
            elif seen is None or (boot, low) > (seen[0], seen[2]):
                if seen is not None:
                    self._keep_interval(state.id, *seen)
                state.seen = [boot, low, high]
            else:
                self._keep_interval(state.id, boot, low, high)

    def _keep_interval(self, node_id: int, boot: int, low: int, high: int) -> None:
        """Put [low, high] of (node, boot) into ``frames_seen``, joined with an interval ending at low - 1 and
        one starting at high + 1 (none overlaps it: its keys were not known)."""
        before = self._conn.execute(
            "SELECT low, high FROM frames_seen WHERE node_id = ? AND boot = ? AND low < ? ORDER BY low DESC LIMIT 1",
            (node_id, boot, low),
        ).fetchone()
        if before is not None and before[1] != low - 1:
            before = None
        after = self._conn.execute(
            "DELETE FROM frames_seen WHERE node_id = ? AND boot = ? AND low = ? RETURNING high",
            (node_id, boot, high + 1),
        ).fetchall()
        if after:
            high = after[0][0]
        if before is not None:
            self._conn.execute(
                "UPDATE frames_seen SET high = ? WHERE node_id = ? AND boot = ? AND low = ?",
                (high, node_id, boot, before[0]),
            )
        else:
            self._conn.execute(
                "INSERT INTO frames_seen (node_id, boot, low, high) VALUES (?, ?, ?, ?)",
                (node_id, boot, low, high),
            )

    def _next_frame_id(self) -> int:
        return int(self._conn.execute("SELECT coalesce(max(id), 0) + 1 FROM frames").fetchone()[0])

    def _collect_frames(self, item: _Frames, known: set[tuple[int, int, int]], batch: _Batch) -> int:
        """Add the new frames of ``item`` to the batch's rows (known and repeated keys are skipped)."""
        at, bucket = item.at, item.at // SERIES_BUCKET_MS
        offset = self._learned.offset_ms if self._learned.holds(item.base, self._boot_id) else None
        self._offset = offset  # also for the events these frames cause
        frame_rows, readings, columns, newest = batch.frame_rows, batch.readings, batch.columns, batch.newest
        new = 0
        for frame in item.frames:
            state = self._nodes[frame.node]  # _known_keys looked every node up
            key = (state.id, frame.boot, frame.seq)
            if key in known:
                continue  # seen before: stored once however often it arrives
            known.add(key)
            batch.new_keys.append((state, frame.boot, frame.seq))
            new += 1
            frame_id = batch.next_frame_id
            batch.next_frame_id += 1
            frame_rows += (frame_id, state.id, frame.boot, frame.seq, at, offset)
            if frame.kind == "r" and state.boot == frame.boot:
                state.frames += 1
                state.last_seen = at  # the arrival of its last frame, whatever the wall clock did
                if item.source is not None:
                    state.port = item.source
            else:
                self._note_frame(state, frame, at, item.source)
            values = frame.values
            if not values:
                continue
            names = tuple(values)
            flat = readings.get(names)
            if flat is None:
                flat = readings[names] = []
            flat.append(frame_id)
            flat += values.values()
            column = columns.get((state.id, bucket, names))
            if column is None:
                columns[(state.id, bucket, names)] = [at, values.values()]
            else:
                column[0] = max(column[0], at)
                column.append(values.values())
            top = newest.get((state.id, names))
            if top is None or (frame.boot, frame.seq) > (top[0], top[1]):
                newest[(state.id, names)] = (frame.boot, frame.seq, at, values.values())
        return new

    def _insert_readings(self, names: tuple[str, ...], flat: list[Any]) -> None:
        """INSERT the readings of frames that carry ``names``; ``flat`` holds (frame id, *values) per frame.

        Each frame's readings get consecutive seqs in the order of its names; within one commit, frames are
        grouped by their set of names (the readings of a commit become visible together).
        """
        name_ids = tuple(self._name(name) for name in names)
        width = 1 + len(names)
        per_statement = max(1, min(_ROWS_PER_STATEMENT // len(names), self._max_variables // width))
        count = len(flat) // width
        start = 0
        while start < count:
            frames = min(per_statement, count - start)
            if frames < per_statement:  # the tail in powers of two, so that few distinct statements exist
                frames = 1 << (frames.bit_length() - 1)
            sql = _readings_sql(name_ids, frames)
            self._conn.execute(sql, flat[start * width : (start + frames) * width])
            start += frames

    def _insert_rows(self, into: str, width: int, flat: list[Any]) -> None:
        """INSERT ``flat`` (rows of ``width`` values, concatenated) with multi-row VALUES statements.

        One statement per chunk instead of one per row: an AUTOINCREMENT table updates its sequence once
        per statement, which makes this several times faster than executemany.
        """
        per_statement = max(1, min(_ROWS_PER_STATEMENT, self._max_variables // width))
        count = len(flat) // width
        start = 0
        while start < count:
            rows = min(per_statement, count - start)
            if rows < per_statement:  # the tail in powers of two, so that few distinct statements exist
                rows = 1 << (rows.bit_length() - 1)
            self._conn.execute(_insert_sql(into, width, rows), flat[start * width : (start + rows) * width])
            start += rows

    def _node(self, node: str, at: int) -> _NodeState:
        state = self._nodes.get(node)
        if state is None:
            row = self._conn.execute(
                "SELECT id, boot, frames, last_seen, bad_lines, port, seen_boot, seen_low, seen_high "
                "FROM nodes WHERE node = ?",
                (node,),
            ).fetchone()
            if row is None:
                cur = self._conn.execute(
                    "INSERT INTO nodes (node, first_seen, last_seen) VALUES (?, ?, ?)", (node, at, at)
                )
                state = _NodeState(int(cur.lastrowid or 0), None, 0, at)
                self._event(at, node, "node_new", {})
            else:
                seen = None if row[6] is None else [row[6], row[7], row[8]]
                state = _NodeState(row[0], row[1], row[2], row[3], row[4], row[5], seen=seen)
            self._nodes[node] = state
        return state

    def _name(self, name: str) -> int:
        name_id = self._names.get(name)
        if name_id is None:
            self._conn.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            name_id = int(self._conn.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0])
            self._names[name] = name_id
        return name_id

    def _event(self, at: int, node: str | None, kind: str, data: dict[str, object]) -> None:
        self._conn.execute(
            "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
            (at, self._offset, node, kind, json.dumps(data, separators=(",", ":"))),
        )

    def _note_frame(self, state: _NodeState, frame: Frame, at: int, source: str | None) -> None:
        if state.boot is not None and frame.boot > state.boot:
            self._event(at, frame.node, "reboot", {"from": state.boot, "to": frame.boot})
        if state.boot is None or frame.boot > state.boot:
            state.boot = frame.boot
        state.frames += 1
        state.last_seen = at
        state.port = source or state.port
        if frame.kind == "h":
            state.hello = {key: _storable(frame.extra.get(key)) for key in _HELLO_FIELDS}
            self._event(at, frame.node, "hello", {"boot": frame.boot, **frame.extra})
        elif frame.kind == "e":
            self._event(
                at, frame.node, "error", {"boot": frame.boot, "q": frame.seq, "msg": frame.extra["msg"]}
            )

    def _aggregate(
        self,
        columns: dict[tuple[int, int, tuple[str, ...]], list[Any]],
        newest: dict[tuple[int, tuple[str, ...]], tuple[int, int, int, Any]],
    ) -> None:
        """Keep the latest value and the 5-minute aggregates per (node, name) current, for the kiosk.

        The latest value is the newest by the node's own order (boot, q), never by wall-clock stamps: a frame
        replaces it only when its (boot, q) is higher (a row from before this rule, with no boot, is
        replaced by any). Its ``at`` is when that frame arrived.
        """
        latest: dict[tuple[int, int], tuple[float, int, int, int]] = {}
        for (node_id, names), (boot, q, at, values) in newest.items():
            for name, value in zip(names, values, strict=True):
                key = (node_id, self._names[name])
                top = latest.get(key)
                if top is None or (boot, q) > (top[2], top[3]):
                    latest[key] = (value, at, boot, q)
        series: dict[tuple[int, int, int], list[float]] = {}
        for (node_id, bucket, names), (_at, *rows) in columns.items():
            for name, values in zip(names, zip(*rows, strict=True), strict=True):
                name_id = self._names[name]
                low, high, total = min(values), max(values), sum(values)
                acc = series.get((node_id, name_id, bucket))
                if acc is None:
                    series[(node_id, name_id, bucket)] = [len(values), total, low, high]
                else:
                    acc[0] += len(values)
                    acc[1] += total
                    acc[2] = min(acc[2], low)
                    acc[3] = max(acc[3], high)
        self._conn.executemany(
            "INSERT INTO latest (node_id, name_id, value, at, boot, q) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (node_id, name_id) DO UPDATE SET value = excluded.value, at = excluded.at, "
            "boot = excluded.boot, q = excluded.q "
            "WHERE latest.boot IS NULL OR (excluded.boot, excluded.q) > (latest.boot, latest.q)",
            [(node_id, name_id, *row) for (node_id, name_id), row in latest.items()],
        )
        self._conn.executemany(
            "INSERT INTO series (node_id, name_id, bucket, n, total, low, high) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (node_id, name_id, bucket) DO UPDATE SET n = n + excluded.n, "
            "total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high)",
            [(*key, *acc) for key, acc in series.items()],
        )

    def _store_console(self, item: _Console) -> int:
        self._conn.execute(
            "INSERT INTO console (source, at, line) VALUES (?, ?, ?)", (item.source, item.at, item.line)
        )
        if item.node is not None:
            self._node(item.node, item.at).bad_lines += 1
        self._conn.execute(
            "DELETE FROM console WHERE source = ? AND id <= "
            "(SELECT id FROM console WHERE source = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (item.source, item.source, CONSOLE_KEEP),
        )
        return 1

    def _flush_nodes(self) -> None:
        for state in self._nodes.values():
            hello = state.hello or {}
            self._conn.execute(
                "UPDATE nodes SET boot = ?, frames = ?, last_seen = ?, bad_lines = ?, port = ?, "
                "fw = coalesce(?, fw), up_s = coalesce(?, up_s), mem_free = coalesce(?, mem_free), "
                "rssi = coalesce(?, rssi), bat_v = coalesce(?, bat_v), seen_boot = ?, seen_low = ?, seen_high = ? "
                "WHERE id = ?",
                (
                    state.boot,
                    state.frames,
                    state.last_seen,
                    state.bad_lines,
                    state.port,
                    hello.get("fw"),
                    hello.get("up_s"),
                    hello.get("mem_free"),
                    hello.get("rssi"),
                    hello.get("bat_v"),
                    *(state.seen or (None, None, None)),
                    state.id,
                ),
            )
            state.hello = None


def _reason(err: BaseException) -> str:
    return _text(str(err) or type(err).__name__)
