"""Small builders shared by the gateway suites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.frame import Frame

VALUES = {"water_cm": 131.5, "temp_c": 27.9, "rain_mm": 0.2, "hum_pct": 81.0, "bat_v": 3.71}


def reading(node: str = "dmk-wl-01", boot: int = 1, seq: int = 0, **values: float) -> Frame:
    return Frame("r", node, boot, seq, dict(values or VALUES))


def readings(count: int, node: str = "dmk-wl-01", boot: int = 1, start: int = 0) -> list[Frame]:
    return [reading(node, boot, q, water_cm=100.0 + q, temp_c=27.0) for q in range(start, start + count)]


class SnapshotHolder:
    """Another process that holds a read snapshot of the store (``BEGIN`` and one read of ``table``) until
    :meth:`release`, as a slow or stuck reader would; a TRUNCATE checkpoint cannot complete meanwhile."""

    CODE = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN')\n"
        "conn.execute(f'SELECT count(*) FROM {sys.argv[2]}').fetchone()\n"
        "print('holding', flush=True)\n"
        "sys.stdin.readline()\n"
        "conn.execute('COMMIT')\n"
        "conn.close()\n"
        "print('released', flush=True)\n"
    )

    def __init__(self, path: Path, table: str = "submissions"):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(path), table],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> SnapshotHolder:
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "holding\n"
        return self

    def release(self) -> None:
        """Let the snapshot go; returns once the process has ended its transaction and exited."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            assert self.proc.stdout is not None and self.proc.stdout.readline() == "released\n"
            self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class LockHolder:
    """Another process that holds the store's write lock (``BEGIN IMMEDIATE``) until :meth:`release`."""

    CODE = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "conn.execute('COMMIT')\n"
        "print('released', flush=True)\n"
    )

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> LockHolder:
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "locked\n"
        return self

    def release(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            assert self.proc.stdout is not None and self.proc.stdout.readline() == "released\n"
            self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
