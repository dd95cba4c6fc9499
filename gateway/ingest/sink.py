"""From lines to the store: valid frames go to the writer, anything else to the source's console log."""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

from gateway.errors import FrameError, StoreRefusedError
from gateway.frame import Frame, parse_line
from gateway.ingest.journal import Entry, Journal
from gateway.store.writer import ReadingWriter

log = logging.getLogger(__name__)

MAX_PENDING = 256  # submitted batches not yet committed, per source, before a reader waits for the store


class LineSink(Protocol):
    """What a :class:`~gateway.ingest.serial_reader.SerialReader` hands its lines to."""

    def handle(self, lines: Sequence[bytes]) -> None: ...


def is_blank(line: bytes) -> bool:
    """A line with nothing but white space (a node's empty print): neither a frame nor worth counting."""
    return not line.strip()


class FrameSink:
    """Parses lines of one source (a port) and submits them to the writer.

    Valid frames of one batch of lines are submitted together; an invalid line is kept in the console log of
    the source and counted against the node last seen on it. ``on_frames`` (if given) sees every valid frame,
    e.g. to learn the nodes' intervals. With a ``journal`` (:mod:`gateway.ingest.journal`), the valid lines of
    a batch are journaled before their frames are submitted, and committed at once when they cannot be.
    """

    def __init__(
        self,
        writer: ReadingWriter,
        source: str,
        on_frames: Callable[[Sequence[Frame]], None] | None = None,
        journal: Journal | None = None,
    ):
        self.writer = writer
        self.journal = journal
        self.urgent = False  # commit each batch at once (the journal could not be opened)
        self.source = source
        self.on_frames = on_frames
        self.last_node: str | None = None
        self.frames = 0
        self.bad_lines = 0
        self._pending: collections.deque[Future[int]] = collections.deque()

    def handle(self, lines: Sequence[bytes]) -> None:
        frames: list[Frame] = []
        valid: list[bytes] = []
        for line in lines:
            if is_blank(line):
                continue
            try:
                frame = parse_line(line)
            except FrameError:
                self.bad_lines += 1
                self.writer.console(self.source, line, node=self.last_node).add_done_callback(_log_failure)
                continue
            frames.append(frame)
            valid.append(line)
            self.last_node = frame.node
        if frames:
            self.frames += len(frames)
            if self.journal is None:
                future = self.writer.submit(frames, source=self.source, urgent=self.urgent)
            else:
                clock = self.writer.clock
                entry = Entry(self.source, clock.now_ms(), clock.base_ms(), tuple(valid))
                future = submit_journaled(self.writer, self.journal, self.journal.add(entry), entry, frames)
            future.add_done_callback(_log_failure)
            self._pending.append(future)
            self._limit_pending()
            if self.on_frames is not None:
                self.on_frames(frames)

    def _limit_pending(self) -> None:
        """Wait for the store when it falls far behind, instead of queueing without bound."""
        while self._pending and self._pending[0].done():
            self._pending.popleft()
        while len(self._pending) > MAX_PENDING:
            oldest = self._pending.popleft()
            with contextlib.suppress(Exception):  # a failure is logged by the callback; the reader goes on
                oldest.result(timeout=60)


def submit_journaled(
    writer: ReadingWriter,
    journal: Journal,
    entry_id: int | None,
    entry: Entry,
    frames: Sequence[Frame],
    urgent: bool = False,
) -> Future[int]:
    """Submit the ``frames`` of journal entry ``entry_id`` (None: it could not be journaled, so they are
    committed at once, as with ``urgent``) and let the journal forget it once they are committed; the frames'
    Future."""
    future = writer.submit(
        frames,
        entry.at,
        entry.source,
        base=entry.base,
        urgent=urgent or entry_id is None,
        awaited=entry_id is None,
    )  # journaled: kept there until committed, no sender waits
    if entry_id is not None:
        journal.track(entry_id, future)
    return future


def _log_failure(future: Future[int]) -> None:
    err = future.exception()
    if isinstance(err, StoreRefusedError):
        pass  # the writer logged it and kept the refused frames in the console log
    elif err is not None:
        log.error("not saved: %s", err)
