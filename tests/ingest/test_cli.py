"""The commands end to end: ``anjungan ingest`` in a subprocess, ``node list``, ``node monitor``."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.frame import encode, reading_line
from gateway.ingest.service import Ingest, SerialPort
from gateway.store import Store
from tests.ingest.helpers import anjungan, frame_keys, stop, wait_for, write_all

HELLO = {"v": 1, "k": "h", "n": "dmk-wl-01", "b": 4, "q": 0, "fw": "0.3.1", "up_s": 2, "mem_free": 81234,
         "rssi": -67, "bat_v": 3.9}  # fmt: skip


def test_ingest_command_reads_a_pty_until_sigterm(
    tmp_path: Path, config_file: Path, store: Store, pty_pair: tuple[int, str]
) -> None:
    master, path = pty_pair
    log = tmp_path / "ingest.log"
    proc = anjungan("--config", str(config_file), "ingest", "--serial", path, log=log)
    try:
        wait_for(lambda: f"serial {path}: open" in log.read_text(), timeout=20, what="the port to open")
        write_all(master, b"MicroPython v1.27.0\r\n" + encode(HELLO))
        for q in range(1, 31):
            write_all(master, reading_line("dmk-wl-01", 4, q, {"water_cm": 100 + q, "temp_c": 27.5}))
        write_all(master, b"Traceback (most recent call last):\r\n")
        wait_for(lambda: len(frame_keys(store)) == 31, what="the frames")
        wait_for(lambda: store.nodes()[0]["bad_lines"] == 1, what="the bad line")
    finally:
        assert stop(proc, signal.SIGTERM) == 0
    assert "ingest: stopped" in log.read_text()
    node = store.nodes()[0]
    assert (node["node"], node["boot"], node["fw"], node["frames"], node["port"]) == (
        "dmk-wl-01", 4, "0.3.1", 31, path)  # fmt: skip
    assert [c["line"] for c in store.console(path)] == [
        "MicroPython v1.27.0",
        "Traceback (most recent call last):",
    ]

    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config_file), "node", "list"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split()[:3] == ["NODE", "STATUS", "LAST"]
    assert row.split()[:2] == ["dmk-wl-01", "online"] and "s ago" in row and "3.9 V" in row
    result = runner.invoke(cli, ["--config", str(config_file), "node", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.output)
    assert listed["status"] == "online" and listed["bad_lines"] == 1 and listed["rssi"] == -67
    assert listed["frames_per_min"] == 3.1  # 31 frames in the last 10 minutes


def _monitor_lines(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line[:2].isdigit()]


SHOWN = [
    "| boot noise",
    "dmk-wl-01 #12/345 water_cm=131.5 temp_c=27.9",
    "dmk-wl-01 #4/346 hello fw=0.3.1 up_s=2 mem_free=81234 rssi=-67 bat_v=3.9",
    '| @{"v":1}*00000000   [not a frame: CRC mismatch]',
]


def _send_sample(master: int) -> None:
    write_all(
        master, b"boot noise\r\n" + reading_line("dmk-wl-01", 12, 345, {"water_cm": 131.5, "temp_c": 27.9})
    )
    write_all(master, encode({**HELLO, "q": 346}) + b'@{"v":1}*00000000\n')


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-port", "relative-port"])
def test_monitor_shows_what_the_ingest_reads_and_never_takes_the_port(
    tmp_path: Path, config_file: Path, store: Store, pty_pair: tuple[int, str], relative: bool
) -> None:
    master, path = pty_pair
    with Ingest(store, serial_ports=[SerialPort(path)], data_dir=tmp_path / "data") as ingest:
        reader = ingest.serial_readers[0]
        wait_for(reader.is_open.is_set, what="the ingest to open the port")
        log = tmp_path / "monitor.log"
        cwd = Path(path).parent if relative else tmp_path
        port = Path(path).name if relative else path  # e.g. "3" in /dev/pts, as a technician may type it
        proc = anjungan("--config", str(config_file), "node", "monitor", "--port", port, log=log, cwd=cwd)
        try:
            wait_for(lambda: "the ingest reads" in log.read_text(), timeout=20, what="the monitor to start")
            wait_for(lambda: list((tmp_path / "data" / "run" / "tap").iterdir()), what="the monitor's tap")
            _send_sample(master)
            wait_for(lambda: "not a frame" in log.read_text(), what="the monitor's output")
            assert reader.is_open.is_set() and reader.opens == 1  # the ingest kept the port throughout
        finally:
            assert stop(proc, signal.SIGINT) == 0
        assert _monitor_lines(log) == SHOWN
        # what the monitor showed, the ingest stored, under its own name of the port
        wait_for(lambda: len(frame_keys(store)) == 2, what="the frames stored")
        assert frame_keys(store) == [("dmk-wl-01", 4, 346), ("dmk-wl-01", 12, 345)]
        wait_for(lambda: len(store.console(path)) == 2, what="the console lines stored")
        assert [c["line"] for c in store.console(path)] == ["boot noise", '@{"v":1}*00000000']
        assert list((tmp_path / "data" / "run" / "tap").iterdir()) == []  # the monitor's tap is gone


def test_monitor_reads_a_port_nobody_reads_and_stores_what_it_shows(
    tmp_path: Path, config_file: Path, store: Store, pty_pair: tuple[int, str]
) -> None:
    master, path = pty_pair
    log = tmp_path / "monitor.log"
    proc = anjungan("--config", str(config_file), "node", "monitor", "--port", Path(path).name, log=log,
                    cwd=Path(path).parent)  # fmt: skip
    try:
        wait_for(lambda: "monitoring" in log.read_text(), timeout=20, what="the monitor to open the port")
        # an ingest that starts now waits for the monitor instead of fighting over the port
        with Ingest(store, serial_ports=[SerialPort(path)], data_dir=tmp_path / "data") as ingest:
            reader = ingest.serial_readers[0]
            _send_sample(master)
            wait_for(lambda: "not a frame" in log.read_text(), what="the monitor's output")
            assert not reader.is_open.is_set()
            assert stop(proc, signal.SIGINT) == 0
            assert _monitor_lines(log) == SHOWN
            assert frame_keys(store) == [("dmk-wl-01", 4, 346), ("dmk-wl-01", 12, 345)]
            assert [c["line"] for c in store.console(path)] == ["boot noise", '@{"v":1}*00000000']
            wait_for(reader.is_open.is_set, timeout=5, what="the ingest to take the port")
            write_all(master, reading_line("dmk-wl-01", 12, 347, {"water_cm": 131.0}))
            wait_for(lambda: ("dmk-wl-01", 12, 347) in frame_keys(store), what="the ingest to read")
    finally:
        stop(proc, signal.SIGINT)
    assert len(frame_keys(store)) == 3


def test_monitor_of_a_missing_device_names_the_nodes_there_are(tmp_path: Path, config_file: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config_file), "node", "monitor", "--port",
                                      "/dev/anjungan-node-missing"])  # fmt: skip
    assert result.exit_code == 1
    assert "no device /dev/anjungan-node-missing" in str(result.exception)
    assert list(tmp_path.iterdir()) == [config_file]  # nothing created


def test_monitor_without_a_store_shows_and_creates_nothing(tmp_path: Path, pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    log = tmp_path / "monitor.log"
    proc = anjungan("node", "monitor", "--port", path, log=log, cwd=tmp_path)
    try:
        wait_for(lambda: "monitoring" in log.read_text(), timeout=20, what="the monitor to open the port")
        _send_sample(master)
        wait_for(lambda: "not a frame" in log.read_text(), what="the monitor's output")
    finally:
        assert stop(proc, signal.SIGINT) == 0
    assert "frames are shown, not stored" in log.read_text()
    assert _monitor_lines(log) == SHOWN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.log"]  # no ./data, no ./data/run
