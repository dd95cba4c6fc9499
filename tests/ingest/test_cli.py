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


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-port", "relative-port"])
def test_monitor_takes_the_port_from_the_ingest_stores_what_it_shows_and_gives_it_back(
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
            wait_for(lambda: "monitoring" in log.read_text(), timeout=20, what="the monitor to open the port")
            assert not reader.is_open.is_set()
            write_all(
                master,
                b"boot noise\r\n" + reading_line("dmk-wl-01", 12, 345, {"water_cm": 131.5, "temp_c": 27.9}),
            )
            write_all(master, encode({**HELLO, "q": 346}) + b'@{"v":1}*00000000\n')
            wait_for(lambda: "not a frame" in log.read_text(), what="the monitor's output")
        finally:
            assert stop(proc, signal.SIGINT) == 0
        lines = [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line[:2].isdigit()]
        assert lines == [
            "| boot noise",
            "dmk-wl-01 #12/345 water_cm=131.5 temp_c=27.9",
            "dmk-wl-01 #4/346 hello fw=0.3.1 up_s=2 mem_free=81234 rssi=-67 bat_v=3.9",
            '| @{"v":1}*00000000   [not a frame: CRC mismatch]',
        ]
        # what the monitor showed is stored, exactly as the ingest would have stored it
        assert frame_keys(store) == [("dmk-wl-01", 4, 346), ("dmk-wl-01", 12, 345)]
        assert [c["line"] for c in store.console(port)] == ["boot noise", '@{"v":1}*00000000']
        wait_for(reader.is_open.is_set, timeout=5, what="the ingest to take the port back")
        write_all(master, reading_line("dmk-wl-01", 12, 347, {"water_cm": 131.0}))
        wait_for(lambda: ("dmk-wl-01", 12, 347) in frame_keys(store), what="the ingest to read again")
        assert len(frame_keys(store)) == 3
