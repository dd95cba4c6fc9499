"""Running the parts as child processes (``anjungan run`` and ``anjungan demo``).

Each part is its own process over the one store, so a crash of one never stops the others: a child that
exits is started again after a growing pause (1 s, 2 s, … up to 60 s).

No child outlives its supervisor:
- SIGINT, SIGTERM or SIGHUP to the supervisor stop every child at once: SIGTERM to each child's process group
  (each child leads its own session, so a Ctrl-C in the terminal reaches only the supervisor, and whatever a
  child started goes with it), then SIGKILL to the groups still there after :data:`STOP_GRACE_S`.
- When the supervisor dies without stopping them (SIGKILL, the OOM killer, a crash), the kernel ends each child
  with SIGKILL (Linux ``prctl(PR_SET_PDEATHSIG)``, set in the child between fork and exec): nobody is left to
  escalate a stop that hangs, and everything a child acknowledged is committed already (ingest and kiosk
  acknowledge only after their commit), so nothing is lost.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.backoff import Backoff
from gateway.stopsignals import stop_on_signals

STOP_GRACE_S = 5.0
RESTART_FIRST_S, RESTART_CAP_S = 1.0, 60.0  # a child that exits is started again after 1 s, 2 s, … 60 s
HEALTHY_S = 60.0  # a child that ran this long is healthy again: its next restart waits RESTART_FIRST_S
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def anjungan_argv(*args: str) -> list[str]:
    """The command line that runs ``anjungan ARGS`` with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "gateway", *args]


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (the child between fork and exec must not load anything)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when its parent (``parent_pid``) dies; None off Linux.

    The parent may die between fork and the prctl call: the child then finds it has another parent already and
    ends itself. Call Popen from the thread that lives as long as the supervisor (the kernel signals on the
    death of the forking thread).
    """
    prctl = _PRCTL
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@dataclass
class Child:
    """One supervised part: ``argv`` run with ``env`` added to ours, output to ``log`` (a file, appended) or ours."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(RESTART_FIRST_S, RESTART_CAP_S))
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
                preexec_fn=die_with_parent(os.getpid()),  # no threads here: see die_with_parent
            )
        finally:
            if out:
                out.close()
        self.started_at = time.monotonic()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's process group (the child and whatever it started), if any is left."""
        if self.proc is None:
            return
        # ProcessLookupError: the group is gone; PermissionError: macOS says so for a group of zombies
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """Stop this child alone: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        stop_all([self], timeout)


def stop_all(children: Sequence[Child], timeout: float = STOP_GRACE_S) -> None:
    """Stop all ``children`` in parallel: SIGTERM to every group at once, one shared deadline of ``timeout``
    seconds, then SIGKILL to the groups still there; returns when every child has been reaped."""
    running = [c for c in children if c.proc is not None and c.proc.poll() is None]
    for child in running:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        assert child.proc is not None
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.proc.wait()
    for child in running:  # whatever a child started and left behind in its group
        child.signal_group(signal.SIGKILL)


class Supervisor:
    """Starts ``children``, restarts one that exits, and stops them all on SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, children: Sequence[Child], echo=print, stop_grace_s: float = STOP_GRACE_S):  # type: ignore[no-untyped-def]
        self.children = list(children)
        self.echo = echo
        self.stop_grace_s = stop_grace_s
        self._stopping = False

    def run(self) -> int:
        """Run until a stop signal; returns 0 after every child has ended."""
        with stop_on_signals(self._stop, STOP_SIGNALS):
            try:
                for child in self.children:
                    child.start()
                while not self._stopping:
                    self._tend()
                    time.sleep(0.2)
            finally:
                stop_all(self.children, self.stop_grace_s)
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
                if now - child.started_at > HEALTHY_S:
                    child.backoff.reset()
                continue
            pause = child.backoff.next()
            self.echo(f"{child.name} exited with {code}; starting it again in {pause:.0f} s")
            child.signal_group(signal.SIGKILL)  # anything it started and left behind
            child.proc = None
            child.next_start = now + pause

    def _stop(self) -> None:
        self._stopping = True
