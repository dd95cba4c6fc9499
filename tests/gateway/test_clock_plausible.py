"""``anjungan clock``: only a plausible central time is taken, and the whole question has one deadline.

A real HTTP server plays the central's ``GET /api/v1/time`` with the answers a wrong central (or anyone on the
path of an http:// link) could give. Every run is ``--dry-run``: the check comes before the step, and the
machine running the tests keeps its clock whatever the code does.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.clockset import MAX_AHEAD_S, check_plausible, release_floor
from gateway.errors import AnjunganError

YEAR_S = 365 * 86400


@pytest.fixture
def central() -> Iterator[tuple[str, list[bytes]]]:
    """A central answering ``GET /api/v1/time`` with the body last put in the list it yields (a callable's
    text, for a time relative to now)."""
    bodies: list[bytes] = [b"{}"]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = bodies[-1]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-central-time", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _clock(tmp_path: Path, url: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    if url:
        env["ANJUNGAN_CENTRAL_URL"] = url
    return subprocess.run([sys.executable, "-m", "gateway", "clock", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"time": 0}', "is before this release (2026-11-30): the central's clock is wrong"),
        (b'{"time": -1e9}', "is before this release"),
        (b'{"time": true}', "the answer holds no time in seconds"),
        (b'{"time": "4102444800"}', "the answer holds no time in seconds"),
        (b'{"time": NaN}', "the answer's time is not a finite number"),
        (b'{"time": Infinity}', "the answer's time is not a finite number"),
        (b'{"time": 1' + b"0" * 400 + b"}", "the answer's time is not a finite number"),
        (b'{"time": 1e300}', "days ahead of this clock"),
        (b"[1]", "the answer holds no time in seconds"),
        (b"<html>portal</html>", "the answer is not JSON"),
    ],
)
def test_an_implausible_central_time_is_refused_in_one_line(
    tmp_path: Path, central: tuple[str, list[bytes]], body: bytes, says: str
) -> None:
    url, bodies = central
    bodies.append(body)
    done = _clock(tmp_path, url, "from-central", "--dry-run", "--even-if-synchronized")
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("anjungan: ") and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "would step" not in done.stdout


def test_a_time_years_ahead_needs_the_operators_flag(
    tmp_path: Path, central: tuple[str, list[bytes]]
) -> None:
    url, bodies = central
    bodies.append(json.dumps({"time": time.time() + 2 * YEAR_S}).encode())
    done = _clock(tmp_path, url, "from-central", "--dry-run", "--even-if-synchronized")
    assert done.returncode == 1 and "days ahead of this clock" in done.stderr
    program = Path(sys.executable).parent / "anjungan"  # the release's own, as root (not the wrapper)
    assert f"`sudo {program} clock from-central --allow-large-step`" in done.stderr
    allowed = _clock(
        tmp_path, url, "from-central", "--dry-run", "--even-if-synchronized", "--allow-large-step"
    )
    assert allowed.returncode == 0, allowed.stderr
    step = re.fullmatch(r"would step the clock by \+(\d+) s to the central's time\n", allowed.stdout)
    assert step and 2 * YEAR_S - 300 < int(step[1]) <= 2 * YEAR_S  # two years, less the time since asked
    # a plausible time an hour ahead needs nothing
    bodies.append(json.dumps({"time": time.time() + 3600}).encode())
    hour = _clock(tmp_path, url, "from-central", "--dry-run", "--even-if-synchronized")
    hour_step = re.fullmatch(r"would step the clock by \+(\d+) s to the central's time\n", hour.stdout)
    assert hour.returncode == 0 and hour_step and 3300 < int(hour_step[1]) <= 3600, hour.stderr


def test_the_limits_themselves() -> None:
    floor = release_floor()
    now = time.time()
    assert floor <= now, "gateway.RELEASE_DATE lies in the future: every correct time would be refused"
    check_plausible(floor, floor - 50 * YEAR_S, None, allow_large_step=False)  # a Pi booted in 1970
    with pytest.raises(AnjunganError, match="before this release"):
        check_plausible(floor - 1, now, None, allow_large_step=True)  # never, not even with the flag
    check_plausible(now + MAX_AHEAD_S, now, None, allow_large_step=False)
    with pytest.raises(AnjunganError, match="days ahead"):
        check_plausible(now + MAX_AHEAD_S + 1, now, None, allow_large_step=False)
    # the time last saved counts when the clock is behind it (booted before fake-hwclock restored it)
    check_plausible(now + MAX_AHEAD_S + 1, floor, now + 1, allow_large_step=False)
    # a clock far ahead (stepped wrongly once) is brought back without a flag
    check_plausible(now, now + 80 * YEAR_S, None, allow_large_step=False)


@pytest.fixture
def dripping_central() -> Iterator[str]:
    """A central that promises 100000 bytes and sends one a second: each read is quick, the answer endless."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.recv(4096)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            while not stop.wait(1.0):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=serve, name="dripping-central", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@pytest.mark.parametrize("command", [["from-central", "--dry-run", "--even-if-synchronized"], ["status"]])
def test_a_central_dripping_its_answer_is_given_up_after_the_deadline(
    tmp_path: Path, dripping_central: str, command: list[str]
) -> None:
    """Before, each read had its 10 s but the whole had none: still running after 150 s (the unit has no
    TimeoutStartSec either). The subprocess's own timeout (120 s) is far above the 15 s deadline and far below
    the drip's 100000 s."""
    from gateway.doctor import kernel_clock_synchronized

    if command == ["status"] and kernel_clock_synchronized():
        command = ["from-central", "--even-if-synchronized", "--dry-run"]  # status would not ask the central
    done = _clock(tmp_path, dripping_central, *command)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"anjungan: cannot read the central's time from {dripping_central}: no whole answer within 15 s "
        "(an answer that arrives too slowly)"
    )


def test_without_a_central_the_timers_run_is_no_failure(tmp_path: Path) -> None:
    """anjungan-clock-central.service runs every 15 min with --if-configured: before a central is configured it
    says so and succeeds (it failed every time, and the unit showed failed)."""
    quiet = _clock(tmp_path, "", "from-central", "--even-if-synchronized", "--if-configured")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "no central configured ([central] url): nothing to take the time from"
    asked = _clock(tmp_path, "", "from-central", "--even-if-synchronized")
    assert asked.returncode == 1 and "no central configured" in asked.stderr  # by hand, it is a failure
    unit = (
        Path(__file__).resolve().parents[2] / "hardware/systemd/anjungan-clock-central.service"
    ).read_text()
    assert "clock from-central --if-configured\n" in unit and "\nTimeoutStartSec=" in unit
    assert list(tmp_path.iterdir()) == []  # nothing created
