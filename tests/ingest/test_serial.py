"""The serial reader on real pseudo-terminals: contract vectors, a megabyte of noise, replug, hand-over."""

from __future__ import annotations

import os
import random
import threading
import time
import tty
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import portlock
from gateway.backoff import Backoff
from gateway.frame import reading_line
from gateway.ingest.serial_reader import SerialReader
from gateway.ingest.service import Ingest, SerialPort
from gateway.ingest.sink import FrameSink
from gateway.store import ReadingWriter, Store
from tests.fixtures.disk import fill
from tests.gateway.helpers import LockHolder
from tests.ingest.helpers import count, frame_keys, vector_cases, wait_for, write_all


@pytest.fixture
def reader_on(store: Store) -> Iterator[object]:
    started: list[SerialReader] = []

    def start(port: str, data_dir: Path | None = None) -> SerialReader:
        sink = FrameSink(store.writer(), port)
        reader = SerialReader(port, sink, data_dir=data_dir, backoff=Backoff(0.1, 1.0)).start()
        started.append(reader)
        wait_for(reader.is_open.is_set, what=f"{port} to open")
        return reader

    yield start
    for reader in started:
        reader.close()


def test_contract_vectors_through_a_pty(store: Store, pty_pair: tuple[int, str], reader_on) -> None:  # type: ignore[no-untyped-def]
    master, path = pty_pair
    reader = reader_on(path)
    cases = vector_cases()
    for i, case in enumerate(
        cases
    ):  # after each vector a probe frame: an invalid line never swallows the next
        write_all(master, case["line"] + reading_line("probe", 1, i, {"x_c": i}))
    wait_for(lambda: len(frame_keys(store, "probe")) == len(cases), what="every probe frame")
    expected = {("dmk-wl-01", c["frame"]["b"], c["frame"]["q"]) for c in cases if c["valid"]}
    wait_for(lambda: set(frame_keys(store, "dmk-wl-01")) == expected, what="the valid vectors")
    assert frame_keys(store, "probe") == [("probe", 1, i) for i in range(len(cases))]
    rows = list(store.readings(node="dmk-wl-01"))
    assert sorted((r["seq"], r["name"], r["value"]) for r in rows) == [
        (345, "temp_c", 27.9),
        (345, "water_cm", 131.5),
    ]
    invalid = [c for c in cases if not c["valid"] and c["line"].strip()]
    # each invalid line counts against the node last seen on the port: probe frames come between them
    wait_for(lambda: count(store, "console") == len(invalid), what="the console lines")
    node = {n["node"]: n for n in store.nodes()}
    assert node["probe"]["bad_lines"] == len(invalid)
    assert node["dmk-wl-01"]["fw"] == "0.3.1" and node["dmk-wl-01"]["rssi"] == -67
    # raw UTF-8 and \u escapes are both text; a lone surrogate or invalid UTF-8 made its line a bad one
    assert [e["data"]["msg"] for e in store.events(kind="error")] == [
        "bme280: no ack",
        "sonar: KeyError: 'jarak_sensör'",
        "hujan é",
    ]
    assert reader.running


@pytest.mark.slow
def test_a_megabyte_of_noise_between_frames(store: Store, pty_pair: tuple[int, str], reader_on) -> None:  # type: ignore[no-untyped-def]
    master, path = pty_pair
    reader = reader_on(path)
    rng = random.Random(20240601)
    noise_left, q, valid, corrupted = 1_000_000, 0, [], []
    while noise_left > 0:
        size = min(noise_left, rng.randint(200, 2000))
        noise_left -= size
        frame = reading_line("fuzz", 7, q, {"level_cm": rng.uniform(0, 500), "temp_c": q % 40})
        if q % 5 == 4:  # a frame with a wrong CRC: never stored
            frame = frame[:-3] + (b"0" if frame[-3:-2] != b"0" else b"1") + frame[-2:]
            corrupted.append(q)
        else:
            valid.append(q)
        write_all(master, rng.randbytes(size) + b"\n" + frame)
        q += 1
    write_all(master, reading_line("fuzz", 7, q, {"level_cm": 1.0}))
    valid.append(q)
    wait_for(lambda: len(frame_keys(store, "fuzz")) >= len(valid), timeout=40, what="every valid frame")
    assert frame_keys(store, "fuzz") == [("fuzz", 7, s) for s in valid]  # exactly once each, none invalid
    assert count(store, "readings") == 2 * (len(valid) - 1) + 1
    assert reader.running and reader.opens == 1
    assert reader.bytes_read >= 1_000_000


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def _publish(link: Path, target: str) -> None:
    tmp = link.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


def test_a_port_that_disappears_and_comes_back(store: Store, tmp_path: Path, reader_on) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / "ttyNODE0"
    master, slave, dev = _pty()
    _publish(link, dev)
    fds = [master, slave]
    try:
        reader = reader_on(str(link))
        write_all(master, b"".join(reading_line("wl", 1, q, {"water_cm": q}) for q in range(10)))
        wait_for(lambda: len(frame_keys(store)) == 10, what="the first frames")
        os.close(master), os.close(slave)  # unplugged
        fds = []
        wait_for(lambda: not reader.is_open.is_set(), what="the reader to notice")
        master, slave, dev = _pty()  # plugged in again: a new device behind the same path
        fds = [master, slave]
        _publish(link, dev)
        wait_for(reader.is_open.is_set, timeout=15, what="the reader to reopen")
        write_all(master, b"".join(reading_line("wl", 1, q, {"water_cm": q}) for q in range(10, 20)))
        wait_for(lambda: len(frame_keys(store)) == 20, what="the frames after the replug")
        assert reader.opens == 2 and reader.running
    finally:
        for fd in fds:
            os.close(fd)


def test_the_port_is_handed_over_on_request(
    store: Store, tmp_path: Path, pty_pair: tuple[int, str], reader_on
) -> None:  # type: ignore[no-untyped-def]
    master, path = pty_pair
    reader = reader_on(path, data_dir=tmp_path)
    write_all(master, reading_line("wl", 1, 0, {"water_cm": 1}))
    wait_for(lambda: len(frame_keys(store)) == 1, what="a frame before the hand-over")
    with portlock.released(tmp_path, path):
        assert not reader.is_open.is_set()  # closed before the block begins
        write_all(master, b"read by someone else\n")
        other = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # the other tool reads the port meanwhile
        try:
            assert os.read(other, 100) == b"read by someone else\n"
        finally:
            os.close(other)
    wait_for(reader.is_open.is_set, timeout=3, what="the reader to take the port back")
    write_all(master, reading_line("wl", 1, 1, {"water_cm": 2}))
    wait_for(lambda: len(frame_keys(store)) == 2, what="a frame after the hand-over")
    assert count(store, "console") == 0


def _frame_line(json_text: str) -> bytes:
    """A frame line with a valid CRC around ``json_text`` exactly as given (escapes and all)."""
    payload = json_text.encode()
    return b"@" + payload + b"*" + f"{zlib.crc32(payload):08x}".encode() + b"\n"


def test_one_bad_frame_in_a_read_costs_only_itself(
    store: Store, pty_pair: tuple[int, str], reader_on
) -> None:  # type: ignore[no-untyped-def]
    """One read carrying reading q0, a hello whose fw holds a lone surrogate, reading q1: q0 and q1 are saved,
    the hello is kept in the console log as a bad line, and the reader goes on."""
    master, path = pty_pair
    reader = reader_on(path)
    hello = _frame_line(
        r'{"v":1,"k":"h","n":"wl-03","b":1,"q":1,"fw":"0.1.0\ud800","up_s":5,"mem_free":9000}'
    )
    write_all(
        master,
        reading_line("wl-03", 1, 0, {"water_cm": 20.0})
        + hello
        + reading_line("wl-03", 1, 2, {"water_cm": 21.0}),
    )
    wait_for(lambda: len(frame_keys(store)) == 2, what="the two readings")
    wait_for(lambda: count(store, "console") == 1, what="the refused hello in the console log")
    assert frame_keys(store) == [("wl-03", 1, 0), ("wl-03", 1, 2)]
    [node] = store.nodes()
    assert node["bad_lines"] == 1 and node["fw"] is None
    assert [e["kind"] for e in store.events()] == ["node_new"]
    write_all(master, reading_line("wl-03", 1, 3, {"water_cm": 22.0}))
    wait_for(lambda: len(frame_keys(store)) == 3, what="the next frame")
    assert reader.running


def test_a_full_disk_stalls_the_serial_ingest_then_it_recovers_by_itself(tiny_disk: Path) -> None:
    """Frames read while the store's disk is full are held, and saved once each when space returns."""
    master, slave, dev = _pty()
    with Store.open(tiny_disk / "data" / "anjungan.db") as store:
        writer = store.writer()
        reader = SerialReader(dev, FrameSink(writer, dev), backoff=Backoff(0.1, 1.0)).start()
        try:
            wait_for(reader.is_open.is_set, what="the port to open")
            write_all(master, reading_line("wl-04", 1, 0, {"water_cm": 1.0}))
            wait_for(lambda: len(frame_keys(store)) == 1, what="a frame before the disk fills")
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next commit must grow the WAL
            filler = fill(tiny_disk)
            write_all(master, b"".join(reading_line("wl-04", 1, q, {"water_cm": q}) for q in range(1, 51)))
            wait_for(lambda: writer.stalled is not None, what="the writer to stall on the full disk")
            assert "disk is full" in (writer.stalled or "")
            assert len(frame_keys(store)) == 1
            filler.unlink()  # space returns; nobody restarts anything
            wait_for(
                lambda: len(frame_keys(store)) > 1, timeout=10, what="the ingest to resume within seconds"
            )
            wait_for(lambda: len(frame_keys(store)) == 51, timeout=30, what="the held frames")
            assert frame_keys(store) == [("wl-04", 1, q) for q in range(51)]
            assert count(store, "readings") == 51 and reader.opens == 1
            write_all(master, reading_line("wl-04", 1, 51, {"water_cm": 1.0}))
            wait_for(lambda: len(frame_keys(store)) == 52, what="a frame after the recovery")
        finally:
            reader.close()
            os.close(master)
            os.close(slave)


@pytest.mark.slow
def test_a_replugged_node_is_read_again_at_once(store: Store, tmp_path: Path) -> None:
    """The device and its link vanish for 10 s and come back: the reader opens it again within a second or
    so (it watches the path), not after a backoff pause grown to many seconds."""
    link = tmp_path / "ttyNODE1"
    master, slave, dev = _pty()
    _publish(link, dev)
    fds = [master, slave]
    reader = SerialReader(str(link), FrameSink(store.writer(), str(link))).start()  # the default backoff
    try:
        wait_for(reader.is_open.is_set, what="the port to open")
        write_all(master, b"".join(reading_line("wl", 1, q, {"water_cm": q}) for q in range(5)))
        wait_for(lambda: len(frame_keys(store)) == 5, what="the first frames")
        link.unlink()  # unplugged: udev removes the link, the device goes away
        for fd in fds:
            os.close(fd)
        fds = []
        wait_for(lambda: not reader.is_open.is_set(), what="the reader to notice")
        time.sleep(10)  # the node stays away for 10 s (the scenario, not a condition)
        master, slave, dev = _pty()
        fds = [master, slave]
        _publish(link, dev)  # plugged in again
        back = time.monotonic()
        wait_for(reader.is_open.is_set, timeout=30, what="the reader to reopen")
        reopened_after = time.monotonic() - back
        write_all(master, b"".join(reading_line("wl", 1, q, {"water_cm": q}) for q in range(5, 10)))
        wait_for(lambda: len(frame_keys(store)) == 10, what="the frames after the replug")
        assert reopened_after < 2.0, f"reopened {reopened_after:.1f} s after the device came back"
        assert reader.opens == 2 and reader.running
    finally:
        reader.close()
        for fd in fds:
            os.close(fd)


def test_the_ingest_stops_while_the_store_is_locked_and_its_queue_is_full(
    store: Store, pty_pair: tuple[int, str]
) -> None:
    """A reader waiting for room in the writer's queue does not keep the ingest from stopping."""
    master, path = pty_pair
    store._writer = ReadingWriter(store.path, busy_timeout_ms=200, max_queued=50).start()  # a small queue
    writer = store.writer()
    ingest = Ingest(store, serial_ports=[SerialPort(path)]).start()
    closer = threading.Thread(target=ingest.close)
    try:
        with LockHolder(store.path):
            wait_for(ingest.serial_readers[0].is_open.is_set, what="the port to open")
            for start in range(0, 1000, 10):  # until the reader waits for room in the queue
                write_all(
                    master,
                    b"".join(
                        reading_line("wl-05", 1, q, {"water_cm": 1.0}) for q in range(start, start + 10)
                    ),
                )
                wait_for(
                    lambda s=start: ingest.sinks[0].frames == s + 10 or writer.waiting, what="the frames read"
                )
                if writer.waiting:
                    break
            assert writer.waiting == 1
            wait_for(lambda: writer.stalls >= 1, what="the writer to find the store locked")
            closer.start()
            closer.join(30)
            assert not closer.is_alive(), "the ingest did not stop"
    finally:
        ingest.close()
    assert not ingest.serial_readers[0].running and frame_keys(store) == []  # nothing was acknowledged
