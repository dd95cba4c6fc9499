"""The reading writer under faults: a record that cannot be written, a store locked for longer than the
busy timeout. Nothing is acknowledged before its commit; nothing good is lost; nothing is stored twice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from gateway.errors import StoreError, StoreRefusedError
from gateway.frame import Frame
from gateway.store import ReadingWriter, Store
from tests.gateway.helpers import LockHolder, reading, readings
from tests.ingest.helpers import count, frame_keys, wait_for

NODE = "dmk-wl-01"


def _hello(seq: int, fw: str) -> Frame:
    return Frame("h", NODE, 1, seq, {}, {"fw": fw, "up_s": 5, "mem_free": 80_000})


@pytest.fixture
def writer(store: Store) -> Iterator[ReadingWriter]:
    with ReadingWriter(store.path, busy_timeout_ms=200) as started:
        yield started


def test_one_frame_that_cannot_be_written_never_takes_the_good_ones_down(
    store: Store, writer: ReadingWriter
) -> None:
    """One read: reading q0, a hello whose fw holds a lone surrogate, reading q1: q0 and q1 are saved."""
    future = writer.submit([reading(seq=0), _hello(1, "0.1.0\ud800"), reading(seq=2)], source="/dev/ttyACM0")
    with pytest.raises(StoreRefusedError) as caught:
        future.result(10)
    assert caught.value.saved == 2 and len(caught.value.refused) == 1
    assert f"{NODE} #1/1" in str(caught.value)
    assert frame_keys(store) == [(NODE, 1, 0), (NODE, 1, 2)]
    assert count(store, "readings") == 2 * 5  # two frames of five readings each
    [node] = store.nodes()
    assert node["bad_lines"] == 1 and node["frames"] == 2 and node["fw"] is None
    [line] = store.console(NODE)
    assert line["line"].startswith("refused by the store") and "0.1.0\\ud800" in line["line"]
    assert [e["kind"] for e in store.events()] == ["node_new"]  # no hello event of the refused frame
    assert writer.refused == 1
    assert writer.write([_hello(3, "0.1.0"), reading(seq=4)]) == 2  # the writer goes on as before
    assert store.nodes()[0]["fw"] == "0.1.0"


def test_a_bad_record_in_a_group_is_isolated_and_the_rest_of_the_group_commits(
    store: Store, writer: ReadingWriter
) -> None:
    """Items queued together are committed together; one bad frame in one of them costs only itself."""
    writer.write(readings(1))
    with LockHolder(store.path) as holder:  # the next items queue up and form one group
        first = writer.submit([reading(seq=1)])
        wait_for(lambda: writer.stalls >= 1, what="the writer to wait for the lock")
        futures = [writer.submit([reading(seq=10 + i)]) for i in range(5)]
        futures += [
            writer.submit([reading(seq=20), Frame("r", NODE, 1, 21, {"water_cm": float("nan")})]),
            writer.submit([Frame("r", NODE, 1 << 64, 0, {"water_cm": 1.0})]),  # beyond SQLite's INTEGER
            writer.console(NODE, "a line kept in the console log"),
        ]
        holder.release()
    assert first.result(10) == 1
    assert [f.result(10) for f in futures[:5]] == [1] * 5
    with pytest.raises(StoreRefusedError) as nan:
        futures[5].result(10)
    assert nan.value.saved == 1 and "#1/21" in nan.value.refused[0]
    with pytest.raises(StoreRefusedError) as huge:
        futures[6].result(10)
    assert huge.value.saved == 0
    assert futures[7].result(10) == 1
    assert frame_keys(store) == [(NODE, 1, q) for q in (0, 1, 10, 11, 12, 13, 14, 20)]
    lines = [line["line"] for line in store.console(NODE)]
    assert [line[:20] for line in lines[:2]] == ["refused by the store"] * 2
    assert "NaN" in lines[0] and str(1 << 64) in lines[1]
    assert lines[2] == "a line kept in the console log"
    assert store.nodes()[0]["bad_lines"] == 2  # the refused frames (the console line names no node)
    assert writer.refused == 2


def _wait_for_attempts(writer: ReadingWriter, more: int) -> None:
    """Wait until the writer has failed ``more`` further attempts to commit."""
    target = writer.stalls + more
    wait_for(lambda: writer.stalls >= target, what=f"{more} more failed attempts")


def test_a_lock_held_longer_than_the_busy_timeout_delays_and_never_drops(
    store: Store, writer: ReadingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds BEGIN IMMEDIATE for many busy timeouts while frames keep arriving: once it lets
    go, every frame is stored exactly once, and no Future was resolved before its commit. The log says it
    once when the writer stalls and once when it saves again, however many attempts failed between."""
    caplog.set_level(logging.WARNING, logger="gateway.store.writer")
    writer.write(readings(1))
    futures: list[Future[int]] = []
    with LockHolder(store.path) as holder:
        for q in range(1, 41):
            futures.append(writer.submit([reading(seq=q)]))
            if q % 10 == 0:  # frames keep arriving while the writer fails attempt after attempt
                _wait_for_attempts(writer, 2)
        assert writer.stalled is not None and "locked" in writer.stalled
        assert not any(f.done() for f in futures)  # nothing acknowledged before its commit
        assert frame_keys(store) == [(NODE, 1, 0)]
        failed_attempts = writer.stalls
        holder.release()
    assert [f.result(10) for f in futures] == [1] * 40
    assert frame_keys(store) == [(NODE, 1, q) for q in range(41)]
    assert count(store, "readings") == 2 + 40 * 5
    assert writer.stalled is None and failed_attempts >= 8
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.store.writer"]
    assert len(warnings) == 2, warnings
    assert "locked" in warnings[0] and "the frames are held" in warnings[0]
    assert warnings[1].startswith("store writer: saving again after") and "failed attempts" in warnings[1]


def test_producers_wait_while_the_store_is_locked(store: Store) -> None:
    """Back-pressure: the writer's queue is bounded; a producer blocks instead of queueing without end."""
    with ReadingWriter(store.path, busy_timeout_ms=200, max_queued=50) as writer:
        writer.write(readings(1))
        submitted: list[Future[int]] = []

        def produce() -> None:
            for q in range(1, 201):
                submitted.append(writer.submit([reading(seq=q)]))

        with LockHolder(store.path) as holder:
            producer = threading.Thread(target=produce)
            producer.start()
            wait_for(lambda: writer.stalls >= 1 and writer.waiting == 1, what="the producer to wait for room")
            assert writer.queued == 50
            blocked_at = len(submitted)
            _wait_for_attempts(writer, 2)
            assert len(submitted) == blocked_at < 200 and producer.is_alive()  # the producer waits
            assert not any(f.done() for f in submitted)
            holder.release()
        producer.join(30)
        assert not producer.is_alive()
        assert sum(f.result(10) for f in submitted) == 200
    assert frame_keys(store) == [(NODE, 1, q) for q in range(201)]


def test_closing_a_stalled_writer_refuses_what_it_holds(store: Store) -> None:
    """A writer closed while it cannot commit fails the Futures it holds: never an acknowledgement."""
    writer = ReadingWriter(store.path, busy_timeout_ms=200).start()
    writer.write(readings(1))
    with LockHolder(store.path):
        future = writer.submit([reading(seq=1)])
        wait_for(lambda: writer.stalls >= 1, what="the writer to wait for the lock")
        writer.close()
        with pytest.raises(StoreError, match="closed before saving"):
            future.result(0)
    assert frame_keys(store) == [(NODE, 1, 0)]
