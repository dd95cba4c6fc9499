"""systemd's watchdog, fed by each service's main loop (gateway/sdnotify.py), seen from a real notify socket.

No systemd runs as PID 1 here, so the test plays its part: it binds the AF_UNIX datagram socket that
``$NOTIFY_SOCKET`` names, sets ``$WATCHDOG_USEC`` as systemd does for a unit with ``WatchdogSec=``, and starts
the real service process. While the main loop runs, a ``WATCHDOG=1`` arrives every WatchdogSec/2; when the main
loop is stuck (a fault point blocks it; the process and its other threads live on), the pings stop, which is
what makes systemd kill the service (SIGABRT) and, with ``Restart=always``, start it again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sdnotify import Notifier

WATCHDOG_S = 6.0


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()


def _service(tmp_path: Path, notify_path: str, *argv: str, fault: str = "") -> subprocess.Popen[bytes]:
    config = tmp_path / "anjungan.toml"
    config.write_text(
        f'[gateway]\ndata_dir = "{tmp_path / "data"}"\njournal_dir = "{tmp_path / "run"}"\n[mqtt]\nhost = ""\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANJUNGAN_", "WATCHDOG_", "NOTIFY_"))}
    env.update(NOTIFY_SOCKET=notify_path, WATCHDOG_USEC=str(int(WATCHDOG_S * 1e6)))
    if fault:
        env["ANJUNGAN_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), *argv],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip


def _receive(sock: socket.socket, timeout: float) -> tuple[float, str] | None:
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        return None
    return time.monotonic(), data.decode()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def test_ingest_pings_from_its_main_loop_and_stops_when_the_loop_is_stuck(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    # the 10th pass of the main loop blocks for good; pings go out on the passes before it, one a second (the
    # loop's pace: at most one per WatchdogSec * PING_SPACING, 0.75 s here)
    proc = _service(tmp_path, path, "ingest", fault="ingest.loop:10:hang")
    try:
        ready = _receive(sock, 60)
        assert ready is not None and "READY=1" in ready[1].splitlines()
        pings = []
        # the pings while the loop runs, then none for twice the watchdog period once it is stuck (systemd
        # would have acted after one)
        while (got := _receive(sock, 2 * WATCHDOG_S)) is not None:
            assert got[1] == "WATCHDOG=1"
            pings.append(got[0])
            assert len(pings) < 10, "the pings went on although the loop is stuck"
        assert len(pings) >= 3, f"only {len(pings)} pings while the loop ran"
        gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
        # always within WatchdogSec (systemd stays content). The pacing (no faster than WatchdogSec * PING_SPACING)
        # is checked by the virtual clock below: here a test held up between two reads sees pings bunch up.
        assert all(gap < WATCHDOG_S for gap in gaps), gaps

        # ... while the process itself is alive, its reader and writer threads too: only the loop stopped
        assert proc.poll() is None
        assert len(os.listdir(f"/proc/{proc.pid}/task")) > 1
    finally:
        _stop(proc)


def test_kiosk_pings_while_it_answers_and_stops_when_its_requests_hang(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # one request thread; the third request (the watchdog's third probe of the home page) blocks it for good
    proc = _service(
        tmp_path, path, "kiosk", "--port", str(port), "--threads", "1", fault="kiosk.request:3:hang"
    )
    try:
        ready = _receive(sock, 90)
        assert ready is not None and "READY=1" in ready[1].splitlines()
        for _ in range(5):  # the pings of the probes that answered (two at most), then silence
            got = _receive(sock, 2 * WATCHDOG_S)
            if got is None:
                break
            assert got[1] == "WATCHDOG=1"
        else:
            raise AssertionError("the pings went on although the kiosk's only request thread hangs")
        # the kiosk no longer answers: no ping for twice the watchdog period, while the process lives on
        assert proc.poll() is None
    finally:
        _stop(proc)


def test_kiosk_serves_and_pings_while_it_answers(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _service(tmp_path, path, "kiosk", "--port", str(port))
    try:
        ready = _receive(sock, 90)
        assert ready is not None and "READY=1" in ready[1].splitlines()
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
        assert "<html" in page.lower()
        for _ in range(2):
            got = _receive(sock, 60)
            assert got is not None and got[1] == "WATCHDOG=1"
    finally:
        _stop(proc)


def test_notifier_reads_systemds_environment(tmp_path: Path) -> None:
    mine = Notifier.from_environ({"NOTIFY_SOCKET": "@anjungan", "WATCHDOG_USEC": "30000000",
                                  "WATCHDOG_PID": str(os.getpid())})  # fmt: skip
    assert mine.address == "\0anjungan" and mine.watchdog_s == 30.0
    # a watchdog meant for another process (a parent that started us) is not ours to feed
    theirs = Notifier.from_environ(
        {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    )
    assert theirs.watchdog_s is None and not theirs.ping()
    # outside systemd, nothing is sent and nothing fails
    none = Notifier.from_environ({})
    assert not none.enabled and not none.ready() and not none.ping()
    # the rate: at most one ping per eighth of the period, by the clock given (a loop passing every second
    # under a 10 s watchdog pings every other pass)
    now = [100.0]
    path = str(tmp_path / "n.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        notifier = Notifier(path, 10.0, clock=lambda: now[0])
        sent = []
        for step in range(12):
            now[0] = 100.0 + step
            sent.append(notifier.ping())
        assert [i for i, was in enumerate(sent) if was] == [0, 2, 4, 6, 8, 10]
        assert notifier.send("STATUS=x")
    # a vanished socket is logged once, never raised
    gone = Notifier(str(tmp_path / "missing.sock"), 10.0)
    assert not gone.ping()


def test_a_wait_pings_in_slices_and_ends_early_when_stopped(tmp_path: Path) -> None:
    """A main loop's wait (an idle interval, a back-off) feeds the watchdog: a datagram at least every quarter
    period, however long the wait; a stop ends it at once. By a virtual clock: deterministic."""
    now = [0.0]
    slices: list[float] = []
    path = str(tmp_path / "w.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.setblocking(False)
        notifier = Notifier(path, 8.0, clock=lambda: now[0])
        pinged: list[float] = []

        def wait(seconds: float) -> bool:
            while True:
                try:
                    sock.recv(64)
                except BlockingIOError:
                    break
                pinged.append(now[0])
            slices.append(seconds)
            now[0] += seconds
            return now[0] >= 100.0  # a stop asked for at t = 100

        assert notifier.wait(30.0, wait) is False  # the whole wait, in slices of a quarter period
        assert slices == [2.0] * 15 and pinged == [float(t) for t in range(0, 30, 2)]
        assert notifier.wait(500.0, wait) is True and now[0] == 100.0  # ended by the stop
    # without a watchdog, one plain wait
    plain: list[float] = []
    assert Notifier("", None).wait(7.5, lambda s: plain.append(s)) is False and plain == [7.5]
