"""``anjungan clock from-central`` against a real HTTP server playing the central's ``GET /api/v1/time``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@pytest.fixture
def central_ahead() -> Iterator[str]:
    """A central whose clock is one hour ahead of this machine's."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = json.dumps({"time": time.time() + 3600}).encode()
            self.send_response(200 if self.path == "/api/v1/time" else 404)
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
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _clock(tmp_path: Path, url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    env["ANJUNGAN_CENTRAL_URL"] = url
    return subprocess.run([sys.executable, "-m", "gateway", "clock", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_from_central_measures_the_step_to_take(tmp_path: Path, central_ahead: str) -> None:
    done = _clock(tmp_path, central_ahead, "from-central", "--dry-run", "--even-if-synchronized")
    assert done.returncode == 0, done.stderr
    assert "would step the clock by +3600 s" in done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_status_says_when_the_clock_is_not_known_good(tmp_path: Path, central_ahead: str) -> None:
    from gateway.doctor import kernel_clock_synchronized

    done = _clock(tmp_path, central_ahead, "status")
    if kernel_clock_synchronized():
        assert done.returncode == 0 and "synchronized by NTP" in done.stdout
    else:
        assert done.returncode == 1 and "clock NOT known good: +3600 s off the central's" in done.stderr
        assert "run `sudo systemctl start anjungan-clock-central`" in done.stderr  # not a command that fails


def test_an_unreachable_central_is_one_plain_line(tmp_path: Path) -> None:
    done = _clock(tmp_path, "http://127.0.0.1:9", "from-central", "--even-if-synchronized")
    assert done.returncode == 1 and done.stderr.startswith("anjungan: cannot read the central's time")


def test_without_the_right_to_set_the_clock_it_names_the_unit_that_has_it(
    tmp_path: Path, central_ahead: str
) -> None:
    """As the service user (the installed wrapper drops root), the step fails: the message says what works."""
    script = (
        "import sys\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff:')][0].split()[1]\n"
        "sys.exit(3) if int(caps, 16) >> 25 & 1 else None  # CAP_SYS_TIME must be gone: never step this clock\n"
        "from gateway.cli import main\n"
        "main(['clock', 'from-central', '--even-if-synchronized'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    env.update(ANJUNGAN_CENTRAL_URL=central_ahead, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(["setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-sys_time", "--",
                           sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "anjungan: setting the clock needs root (CAP_SYS_TIME): run `sudo systemctl start anjungan-clock-central` "
        "(it sets the clock as root)"
    )
