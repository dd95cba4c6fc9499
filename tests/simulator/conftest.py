"""Start simulated boards (``python -m gateway.simulator``) for a test and stop them afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MPREMOTE = str(Path(sys.executable).parent / "mpremote")


class SimulatedBoard:
    def __init__(self, proc: subprocess.Popen[str], link: Path, fs_dir: Path):
        self.proc = proc
        self.link = link
        self.fs = fs_dir

    def mpremote(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MPREMOTE, "connect", str(self.link), *args], capture_output=True, text=True, timeout=timeout
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def start_board(tmp_path: Path) -> Iterator[Callable[..., SimulatedBoard]]:
    boards: list[SimulatedBoard] = []

    def start(node_id: str = "sim-wl-01", *extra: str) -> SimulatedBoard:
        fs_dir = tmp_path / node_id / "fs"
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.simulator", "--node-id", node_id, "--dir", str(fs_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        board = SimulatedBoard(proc, Path(first), fs_dir)
        boards.append(board)
        assert first, proc.stderr.read() if proc.stderr else ""
        return board

    yield start
    for board in boards:
        board.stop()
        for stream in (board.proc.stdout, board.proc.stderr):
            if stream:
                stream.close()
