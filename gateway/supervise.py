"""Running the parts as child processes (``anjungan run`` and ``anjungan demo``).

Each part is its own process over the one store, so a crash of one never stops the others: a child that
exits is started again after a growing pause (1 s, 2 s, … up to 60 s), and SIGINT/SIGTERM stop them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def anjungan_argv(*args: str) -> list[str]:
    """The command line that runs ``anjungan ARGS`` with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "gateway", *args]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        out = self.log.open("ab") if self.log else None
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **(self.env or {})},
                stdout=out or None,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out:
                out.close()
        self.started_at = time.monotonic()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Supervisor:
    def __init__(self, children: Sequence[Child], echo=print):  # type: ignore[no-untyped-def]
        self.children = list(children)
        self.echo = echo
        self._stopping = False

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for child in self.children:
            child.start()
        try:
            while not self._stopping:
                self._tend()
                time.sleep(0.5)
        finally:
            for child in reversed(self.children):
                child.stop()
        return 0

    def _tend(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.next_start:
                    child.start()
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started_at > 60:
                    child.restarts = 0
                continue
            pause = min(60.0, 2.0**child.restarts)
            self.echo(f"{child.name} exited with {code}; starting it again in {pause:.0f} s")
            child.restarts += 1
            child.proc = None
            child.next_start = now + pause

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True
