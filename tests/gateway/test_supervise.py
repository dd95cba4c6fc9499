"""No child outlives its supervisor (`anjungan run`, `anjungan demo`), and a stop ends them all in parallel."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.fixtures.mosquitto import free_port

Proc = tuple[int, str]  # (pid, start time in clock ticks): a pid alone may be reused


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the state on: [0] state, [1] ppid, [19] start time


def descendants(root: int) -> set[Proc]:
    """The live processes below ``root`` (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) and fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            fields = _stat(pid)
            if fields:
                found.add((pid, fields[19]))
                todo.append(pid)
    return found


def alive(procs: set[Proc]) -> set[Proc]:
    """Those of ``procs`` still running (a zombie has ended: it only waits to be reaped by its new parent)."""
    out = set()
    for pid, started in procs:
        fields = _stat(pid)
        if fields and fields[19] == started and fields[0] != "Z":
            out.add((pid, started))
    return out


def wait_for(what: str, check: Callable[[], object], timeout: float) -> float:
    """Poll ``check`` until it is truthy; the seconds it took. Fails after ``timeout``."""
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except (requests.RequestException, OSError) as err:
            last = err
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s (last error: {last})")


def port_free(port: int) -> bool:
    """Whether a server can listen on 127.0.0.1:``port`` again (with SO_REUSEADDR, as waitress does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        sock.listen()
        return True


def end(procs: set[Proc]) -> None:
    """Clean-up after a failed test: SIGKILL those of ``procs`` (started by the test) still running."""
    for pid, _started in alive(procs):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# Children that ignore SIGTERM (and one that leaves a grandchild in its process group): only SIGKILL ends them.
SUPERVISOR = textwrap.dedent(
    """
    import signal, subprocess, sys
    from gateway.supervise import Child, Supervisor
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    parent = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")
    children = [Child(f"stubborn-{i}", [sys.executable, "-c", stubborn]) for i in range(3)]
    children.append(Child("parent", [sys.executable, "-c", parent]))
    print("supervising", flush=True)
    Supervisor(children).run()
    print("stopped", flush=True)
    """
)


@pytest.fixture
def supervisor() -> Iterator[tuple[subprocess.Popen[str], set[Proc]]]:
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR], cwd=REPO, stdout=subprocess.PIPE, text=True)
    procs: set[Proc] = set()
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "supervising"
        wait_for("four children and a grandchild", lambda: len(descendants(proc.pid)) == 5, 60)
        procs |= descendants(proc.pid)
        yield proc, procs
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        end(procs)  # before reading to the end: a leftover would hold the pipe open
        proc.communicate(timeout=60)


def test_sigterm_stops_stubborn_children_in_parallel(
    supervisor: tuple[subprocess.Popen[str], set[Proc]],
) -> None:
    proc, procs = supervisor
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    wait_for(
        "every child and the grandchild gone", lambda: not alive(procs), 5
    )  # a SIGKILL takes effect soon
    took = time.monotonic() - start
    # one grace period of 5 s for all, then SIGKILL (one after the other, it took 4 x 10 s)
    assert took < 15, f"stopping took {took:.1f} s"


def test_children_do_not_outlive_a_killed_supervisor(
    supervisor: tuple[subprocess.Popen[str], set[Proc]],
) -> None:
    proc, procs = supervisor
    children = {p for p in procs if (fields := _stat(p[0])) and int(fields[1]) == proc.pid}
    assert len(children) == 4
    proc.kill()  # SIGKILL: the supervisor cannot stop anything itself
    proc.wait(timeout=60)
    took = wait_for("every child gone", lambda: not alive(children), 30)
    assert took < 5, f"the children outlived their supervisor by {took:.1f} s"


def test_run_killed_leaves_no_child_and_frees_the_kiosk_port(config_file: Path) -> None:
    port = free_port()
    env = {**os.environ, "ANJUNGAN_KIOSK_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config_file), "run"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    procs: set[Proc] = set()
    try:
        wait_for("the kiosk answering", lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok, 90)
        wait_for(
            "ingest and kiosk running", lambda: len(descendants(proc.pid)) == 2, 30
        )  # no central: no sync
        procs = descendants(proc.pid)
        assert not port_free(port)
        proc.kill()
        proc.wait(timeout=60)
        took = wait_for("ingest and kiosk gone", lambda: not alive(procs), 30)
        assert took < 5, f"the children outlived their supervisor by {took:.1f} s"
        # a killed process shows as a zombie once its main thread has exited; its other threads may still be
        # releasing its sockets for a moment
        wait_for("the kiosk's port free", lambda: port_free(port), 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        end(procs)
