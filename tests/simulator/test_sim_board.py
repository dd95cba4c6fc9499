"""The simulated board on a real pseudo-terminal: its frames, and the real mpremote driving its REPL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from gateway.frame import Frame, FrameError, parse_line

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def read_frames(link: Path, count: int, timeout_s: float = 15) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout_s
    with serial.serial_for_url(str(link), timeout=0.2) as port:
        while len(frames) < count and time.monotonic() < deadline:
            line = port.readline()
            try:
                frames.append(parse_line(line))
            except FrameError:
                continue
    assert len(frames) == count, f"only {len(frames)} frames in {timeout_s} s"
    return frames


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("water-level", {"water_cm", "distance_cm", "temp_c", "rh_pct"}),
        ("weather", {"temp_c", "rh_pct", "pressure_hpa", "rain_mm"}),
        ("power", {"mains_v", "mains_ok"}),
    ],
)
def test_board_runs_the_firmware_and_sends_frames(start_board, kind, names):
    board = start_board(f"sim-{kind}", "--kind", kind, "--interval", "0.3")
    assert board.link.is_symlink() and os.readlink(board.link).startswith("/dev/pts/")
    assert (board.fs / "main.py").read_bytes() == (FIRMWARE / "main.py").read_bytes()
    assert json.loads((board.fs / "config.json").read_text())["kind"] == kind
    frames = read_frames(board.link, 3)
    readings = [f for f in frames if f.kind == "r"]
    assert readings and all(f.node == f"sim-{kind}" for f in frames)
    assert names <= set(readings[0].values)
    values = readings[0].values
    if kind == "water-level":
        assert 0 < values["water_cm"] < 300 and abs(values["water_cm"] + values["distance_cm"] - 300) < 0.2
    elif kind == "weather":
        assert 15 < values["temp_c"] < 40 and 950 < values["pressure_hpa"] < 1050 and values["rain_mm"] >= 0
    else:
        assert values["mains_ok"] in (0, 1) and (values["mains_v"] > 200) == (values["mains_ok"] == 1)
    assert board.stop() == 0
    assert not board.link.exists() and not board.link.is_symlink()


def test_mpremote_fs_exec_and_reset(start_board, tmp_path):
    board = start_board("sim-wl-02", "--interval", "0.5")
    # the first frame this reader sees is of boot 1 (the hello itself may have gone out before the port was
    # opened: opening a port flushes what waits in its input buffer)
    assert read_frames(board.link, 1)[0].boot == 1

    ls = board.mpremote("fs", "ls")
    assert ls.returncode == 0, ls.stderr
    assert "main.py" in ls.stdout and "config.json" in ls.stdout and "bootcount.txt" in ls.stdout

    cat = board.mpremote("fs", "cat", "config.json")
    assert cat.returncode == 0 and json.loads(cat.stdout)["node_id"] == "sim-wl-02"

    local = tmp_path / "notes.txt"
    local.write_bytes(bytes(range(256)) * 5)
    cp = board.mpremote("fs", "cp", str(local), ":notes.txt")
    assert cp.returncode == 0, cp.stderr
    assert (board.fs / "notes.txt").read_bytes() == local.read_bytes()
    again = board.mpremote("fs", "cp", str(local), ":notes.txt")
    assert "Up to date" in again.stdout
    back = board.mpremote("fs", "cp", ":notes.txt", str(tmp_path / "back.txt"))
    assert back.returncode == 0 and (tmp_path / "back.txt").read_bytes() == local.read_bytes()

    missing = board.mpremote("fs", "cat", "nothere.txt")
    assert missing.returncode == 1 and "No such file or directory" in missing.stderr

    exe = board.mpremote("exec", "import sys, os; print(sys.platform, 'app' in sys.modules, os.getcwd())")
    assert exe.stdout.split() == ["esp32", "False", "/"]  # a soft reset ran boot.py, not main.py
    raised = board.mpremote("exec", "import os; os.stat('nope')")
    assert raised.returncode == 1 and "OSError: [Errno 2] ENOENT" in raised.stdout + raised.stderr

    reset = board.mpremote("reset")
    assert reset.returncode == 0, reset.stderr
    after = read_frames(board.link, 1)[0]
    assert after.boot == 2  # the reset booted the board again; its frames count from the new boot
    assert (board.fs / "bootcount.txt").read_text() == "2"


def test_raw_repl_protocol_details(start_board):
    """Ctrl-C stops main.py, raw-paste and classic exec both work, Ctrl-D soft-resets without main.py."""
    from mpremote.transport_serial import SerialTransport

    board = start_board("sim-wl-03", "--interval", "0.3")
    read_frames(board.link, 2)
    transport = SerialTransport(str(board.link), baudrate=115200)
    try:
        transport.enter_raw_repl(soft_reset=False)  # Ctrl-C interrupted the app loop, Ctrl-A: raw REPL
        big = "x = 0\n" + "".join(f"x += {i}\n" for i in range(400)) + "print(x)"
        assert len(big) > 10 * 128
        assert transport.exec(big).strip() == str(sum(range(400))).encode()  # raw-paste, many windows
        transport.use_raw_paste = False
        assert transport.exec("print(6 * 7)").strip() == b"42"  # classic raw exec
        out, err = transport.exec_raw("1/0")
        assert out == b"" and b"ZeroDivisionError" in err
        transport.enter_raw_repl(soft_reset=True)
        assert transport.eval("'app' in __import__('sys').modules") is False
        transport.exit_raw_repl()
        assert b'Type "help()"' in transport.read_until(1, b">>> ", timeout=5)  # the friendly REPL
        transport.serial.write(b"1+1\r")
        assert b"2\r\n>>> " in transport.read_until(1, b">>> ", timeout=5)
    finally:
        transport.close()
    assert (board.fs / "bootcount.txt").read_text() == "1"  # soft resets do not count as boots


def test_watchdog_resets_a_board_that_stops_feeding(start_board):
    board = start_board("sim-wl-04", "--interval", "0.3")
    read_frames(board.link, 1)
    # a short watchdog that the REPL keeper (every 2 s) cannot satisfy: the board must reboot by itself
    board.mpremote("exec", "import machine; machine.WDT(timeout=300)")
    # the port is opened after the reboot may have begun, and opening it drops what was waiting (the hello
    # too): any frame of boot 2 shows the reboot, and readings follow every 0.3 s
    frames = read_frames(board.link, 12, timeout_s=20)
    assert any(f.boot == 2 for f in frames), [(f.kind, f.boot) for f in frames]
    assert (board.fs / "bootcount.txt").read_text() == "2"


def _simulate(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    config = tmp_path / "anjungan.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), "node", "simulate", *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def test_a_simulated_board_lives_under_the_configured_data_dir(tmp_path: Path) -> None:
    proc = _simulate(tmp_path, "--node-id", "sim-dd-01", "--interval", "1")
    try:
        assert proc.stdout is not None
        link = Path(proc.stdout.readline().strip())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert link.parent == tmp_path / "data" / "sim" / "sim-dd-01"
    assert json.loads((link.parent / "fs" / "config.json").read_text())["node_id"] == "sim-dd-01"
    assert not (tmp_path / "run").exists()


def test_a_board_provisioned_as_another_node_is_refused_in_one_line(tmp_path: Path) -> None:
    board = tmp_path / "board"
    proc = _simulate(tmp_path, "--node-id", "sim-aa-01", "--dir", str(board))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    again = _simulate(tmp_path, "--node-id", "sim-bb-02", "--dir", str(board))
    out, err = again.communicate(timeout=30)
    assert again.returncode == 1 and out == ""
    assert err.strip().count("\n") == 0 and "provisioned as 'sim-aa-01'" in err, err
