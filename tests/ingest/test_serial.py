"""The serial reader on real pseudo-terminals: contract vectors, a megabyte of noise, replug, hand-over."""

from __future__ import annotations

import os
import random
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import portlock
from gateway.frame import reading_line
from gateway.ingest.backoff import Backoff
from gateway.ingest.serial_reader import SerialReader
from gateway.ingest.sink import FrameSink
from gateway.store import Store
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
    with portlock.released(tmp_path, path, settle_s=0.6):
        assert not reader.is_open.is_set()  # closed within the settle time
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
