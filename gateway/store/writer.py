"""The one writer of readings and node state: a thread fed by a queue, committing in groups.

Producers (serial readers, the MQTT reader) call :meth:`ReadingWriter.submit` and get a Future that is
resolved only after the transaction holding their frames has committed — an acknowledgement means saved.
Whatever is queued while a commit runs goes into the next one, so a busy writer commits large groups and an
idle one commits at once: a batch is committed well within 100 ms of its arrival.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import StoreError
from gateway.frame import Frame
from gateway.store import db

log = logging.getLogger(__name__)

SERIES_BUCKET_MS = 300_000  # charts are drawn from 5-minute aggregates
CONSOLE_KEEP = 200  # console lines kept per source
MAX_GROUP = 20_000  # frames per transaction at most
HOUSEKEEPING_S = 5.0


@dataclass
class _Frames:
    frames: Sequence[Frame]
    at: int
    source: str | None
    future: Future[int] = field(default_factory=Future)


@dataclass
class _Console:
    source: str
    line: str
    at: int
    node: str | None
    future: Future[int] = field(default_factory=Future)


@dataclass
class _NodeState:
    id: int
    boot: int | None
    frames: int = 0
    last_seen: int = 0
    bad_lines: int = 0
    port: str | None = None
    hello: dict[str, object] | None = None


class ReadingWriter:
    """Group-commit writer. ``start()`` it, ``submit()`` frames, ``close()`` it (idempotent)."""

    def __init__(self, path: Path, *, budget_bytes: int | None = None):
        self.path = Path(path)
        self.budget_bytes = budget_bytes
        self._queue: queue.SimpleQueue[_Frames | _Console | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._nodes: dict[str, _NodeState] = {}
        self._names: dict[str, int] = {}
        self._offset: int | None = None
        self._next_housekeeping = 0.0
        self.commits = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> ReadingWriter:
        if self._thread is None:
            self._conn = db.connect(self.path)
            self._thread = threading.Thread(target=self._run, name="anjungan-store-writer", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is None or self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def __enter__(self) -> ReadingWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producers -------------------------------------------------------------------------------------------
    def submit(
        self, frames: Sequence[Frame], at: int | None = None, source: str | None = None
    ) -> Future[int]:
        """Queue frames received together; the Future gives how many were new, after their commit."""
        item = _Frames(frames, db.now_ms() if at is None else at, source)
        self._put(item)
        return item.future

    def write(self, frames: Sequence[Frame], at: int | None = None, timeout: float = 30.0) -> int:
        """Blocking :meth:`submit`: returns once the frames are committed (raises StoreError if not)."""
        return self.submit(frames, at).result(timeout)

    def console(self, source: str, line: bytes | str, node: str | None = None) -> Future[int]:
        """Keep a line that is not a frame in the console log of ``source`` (a port or a node id)."""
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        item = _Console(source, text.rstrip("\r\n")[:1100], db.now_ms(), node)
        self._put(item)
        return item.future

    def _put(self, item: _Frames | _Console) -> None:
        if self._closed.is_set() or self._thread is None:
            raise StoreError("the store writer is not running")
        self._queue.put(item)

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

    def _commit(self, group: list[_Frames | _Console]) -> None:
        results: list[int] = []
        try:
            with db.transaction(self._conn, "saving readings"):
                for item in group:
                    if isinstance(item, _Frames):
                        results.append(self._store_frames(item))
                    else:
                        results.append(self._store_console(item))
                self._flush_nodes()
        except Exception as err:  # the whole group failed: nothing of it is saved, the producers hear it
            self._nodes.clear()
            self._names.clear()
            error = err if isinstance(err, StoreError) else StoreError(f"saving readings: {err}")
            log.error("%s", error)
            for item in group:
                item.future.set_exception(error)
            return
        self.commits += 1
        for item, result in zip(group, results, strict=True):
            item.future.set_result(result)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_S
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'clock_offset_ms'").fetchone()
            self._offset = int(row[0]) if row else None
            if self.budget_bytes:
                from gateway.store.retention import enforce_budget

                enforce_budget(self._conn, self.budget_bytes)
        except (sqlite3.Error, StoreError) as err:
            log.warning("store housekeeping failed: %s", err)

    # -- inside the transaction ------------------------------------------------------------------------------
    def _node(self, node: str, at: int) -> _NodeState:
        state = self._nodes.get(node)
        if state is None:
            row = self._conn.execute(
                "SELECT id, boot, frames, last_seen, bad_lines, port FROM nodes WHERE node = ?", (node,)
            ).fetchone()
            if row is None:
                cur = self._conn.execute(
                    "INSERT INTO nodes (node, first_seen, last_seen) VALUES (?, ?, ?)", (node, at, at)
                )
                state = _NodeState(int(cur.lastrowid or 0), None, 0, at)
                self._event(at, node, "node_new", {})
            else:
                state = _NodeState(row[0], row[1], row[2], row[3], row[4], row[5])
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

    def _store_frames(self, item: _Frames) -> int:
        at, offset, conn = item.at, self._offset, self._conn
        rows: list[tuple[int, int, float]] = []
        values: dict[tuple[int, int], list[float]] = {}
        new = 0
        for frame in item.frames:
            state = self._node(frame.node, at)
            cur = conn.execute(
                "INSERT OR IGNORE INTO frames (node_id, boot, q, at, offset) VALUES (?, ?, ?, ?, ?)",
                (state.id, frame.boot, frame.seq, at, offset),
            )
            if cur.rowcount != 1:
                continue  # seen before: stored once however often it arrives
            new += 1
            self._note_frame(state, frame, at, item.source)
            frame_id = int(cur.lastrowid or 0)
            for name, value in frame.values.items():
                name_id = self._name(name)
                rows.append((frame_id, name_id, value))
                values.setdefault((state.id, name_id), []).append(value)
        if rows:
            conn.executemany("INSERT INTO readings (frame_id, name_id, value) VALUES (?, ?, ?)", rows)
            self._aggregate(values, at)
        return new

    def _note_frame(self, state: _NodeState, frame: Frame, at: int, source: str | None) -> None:
        if state.boot is not None and frame.boot > state.boot:
            self._event(at, frame.node, "reboot", {"from": state.boot, "to": frame.boot})
        if state.boot is None or frame.boot > state.boot:
            state.boot = frame.boot
        state.frames += 1
        state.last_seen = max(state.last_seen, at)
        state.port = source or state.port
        if frame.kind == "h":
            state.hello = frame.extra
            self._event(at, frame.node, "hello", {"boot": frame.boot, **frame.extra})
        elif frame.kind == "e":
            self._event(
                at, frame.node, "error", {"boot": frame.boot, "q": frame.seq, "msg": frame.extra["msg"]}
            )

    def _aggregate(self, values: dict[tuple[int, int], list[float]], at: int) -> None:
        """Keep the latest value and the 5-minute aggregates per (node, name) current, for the kiosk."""
        self._conn.executemany(
            "INSERT INTO latest (node_id, name_id, value, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (node_id, name_id) DO UPDATE SET value = excluded.value, at = excluded.at "
            "WHERE excluded.at >= latest.at",
            [(node_id, name_id, v[-1], at) for (node_id, name_id), v in values.items()],
        )
        bucket = at // SERIES_BUCKET_MS
        self._conn.executemany(
            "INSERT INTO series (node_id, name_id, bucket, n, total, low, high) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (node_id, name_id, bucket) DO UPDATE SET n = n + excluded.n, "
            "total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high)",
            [(n, m, bucket, len(v), sum(v), min(v), max(v)) for (n, m), v in values.items()],
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
                "UPDATE nodes SET boot = ?, frames = ?, last_seen = max(last_seen, ?), bad_lines = ?, port = ?, "
                "fw = coalesce(?, fw), up_s = coalesce(?, up_s), mem_free = coalesce(?, mem_free), "
                "rssi = coalesce(?, rssi), bat_v = coalesce(?, bat_v) WHERE id = ?",
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
                    state.id,
                ),
            )
            state.hello = None
