"""Stopping `anjungan demo` stops everything: killed (SIGKILL) or stopped (SIGTERM), no child lives on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.fixtures.mosquitto import free_port
from tests.gateway.test_supervise import Proc, _stat, alive, descendants, end, port_free, wait_for

CHILDREN = 7  # the central, three simulated nodes, ingest, kiosk, sync (the kiosk's render worker below it)


def children(pid: int) -> set[Proc]:
    """The live processes whose parent is ``pid`` (its descendants one level down)."""
    return {proc for proc in descendants(pid) if (fields := _stat(proc[0])) and int(fields[1]) == pid}


def start_demo(
    demo_dir: Path, kiosk_port: int, central_port: int
) -> tuple[subprocess.Popen[bytes], set[Proc]]:
    """Start the demo and wait until its kiosk and central answer; the process and its children."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--dir", str(demo_dir),
         "--kiosk-port", str(kiosk_port), "--central-port", str(central_port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(
            "the kiosk answering", lambda: requests.get(f"http://127.0.0.1:{kiosk_port}/", timeout=2).ok, 300
        )
        wait_for("the central answering",
                 lambda: requests.get(f"http://127.0.0.1:{central_port}/api/v1/time", timeout=2).ok, 120)  # fmt: skip
        wait_for(f"{CHILDREN} children", lambda: len(children(proc.pid)) >= CHILDREN, 60)
    except BaseException:
        end(descendants(proc.pid))
        proc.kill()
        proc.wait(timeout=60)
        raise
    return proc, descendants(proc.pid)


@pytest.mark.timeout(900)  # two demo starts, each allowed minutes on a loaded machine
def test_demo_killed_then_started_again_then_stopped(tmp_path: Path) -> None:
    kiosk_port, central_port = free_port(), free_port()
    demo_dir = tmp_path / "demo"
    procs: set[Proc] = set()
    demo: subprocess.Popen[bytes] | None = None
    try:
        demo, procs = start_demo(demo_dir, kiosk_port, central_port)
        assert len(children(demo.pid)) == CHILDREN
        assert not port_free(kiosk_port) and not port_free(central_port)
        demo.kill()  # SIGKILL: the demo cannot stop anything itself
        demo.wait(timeout=60)
        took = wait_for("every child of the killed demo gone", lambda: not alive(procs), 30)
        assert took < 5, f"the children outlived the demo by {took:.1f} s"
        # a killed process is a zombie once its main thread exits; its other threads may hold its sockets a moment
        wait_for("both ports free", lambda: port_free(kiosk_port) and port_free(central_port), 5)

        # the next `make demo` starts on the same ports and the same folder
        demo, procs = start_demo(demo_dir, kiosk_port, central_port)
        start = time.monotonic()
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
        wait_for("every child of the stopped demo gone", lambda: not alive(procs), 30)
        took = time.monotonic() - start
        assert took < 10, f"stopping the demo took {took:.1f} s"
        wait_for("both ports free", lambda: port_free(kiosk_port) and port_free(central_port), 5)
    finally:
        if demo is not None and demo.poll() is None:
            demo.kill()
            demo.wait(timeout=60)
        end(procs)
