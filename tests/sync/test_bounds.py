"""The gateway bounds what it accepts from the network: size (once un-gzipped) and time of every answer.

A local HTTP server plays a central (or a captive portal in between) that answers a gzip bomb: 1 MiB of gzip
that inflates to 1 GiB. Without bounds, ``anjungan sync now`` held over 2 GB of memory; with them it refuses
the answer in one plain line and its peak memory stays small.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.store import Store
from sync.client import downlink
from sync.client.clock import Clock
from sync.client.errors import TransientError
from sync.client.transport import MAX_ANSWER_BYTES, CentralLink
from tests.sync.conftest import write_config

BOMB_INFLATED = 1 << 30  # 1 GiB of zeros ...
PEAK_RSS_LIMIT = 200 << 20  # ... must cost the whole `sync now` process less than this
PEAK_TRACED_LIMIT = 3 * MAX_ANSWER_BYTES  # Python allocations of one bounded read (buffer growth included)

Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, gzipped: about 1 MiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(BOMB_INFLATED >> 20)]
    parts.append(packer.flush())
    body = b"".join(parts)
    assert len(body) < 1100 << 10
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Handler]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _route(self) -> None:
        path = self.path.partition("?")[0]
        handler = self.server.routes.get(path) or self.server.routes.get("*")
        if handler is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.command == "POST":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the gateway hung up: wanted
            handler(self)

    do_GET = do_POST = _route

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Handler]], str]]:
    servers: list[_Server] = []

    def start(routes: dict[str, Handler]) -> str:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.routes = routes
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes, **headers: str) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            request.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def time_answer(request: BaseHTTPRequestHandler) -> None:
    answer(200, json.dumps({"time": time.time()}).encode())(request)


def gzip_bomb(body: bytes, status: int = 200) -> Handler:
    return answer(status, body, Content_Encoding="gzip")


def trickle(request: BaseHTTPRequestHandler) -> None:
    """A JSON answer that never ends: a space every 50 ms (each read is quick, the whole never comes)."""
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.end_headers()
    request.wfile.write(b'{"time": 1')
    for _ in range(2000):  # 100 s at most, far beyond what the gateway may wait
        request.wfile.write(b" ")
        request.wfile.flush()
        time.sleep(0.05)


def central_at(url: str, timeout_s: float = 60.0) -> CentralLink:
    return CentralLink(url, "gw", "secret", now=time.time, timeout_s=timeout_s)


def peak_traced(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak bytes Python allocated during ``call`` and the exception it raised."""
    tracemalloc.start()
    try:
        call()
    except BaseException as err:  # noqa: BLE001 - returned to the test, which checks it
        raised: BaseException | None = err
    else:
        raised = None
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


# -- `anjungan sync now` as a whole ------------------------------------------------------------------------


_MEASURE = """
import resource, subprocess, sys
def limit():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # an unbounded read dies here, not the machine
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300, preexec_fn=limit)
sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024) + "\\n")
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
"""


def test_sync_now_refuses_a_gzip_bomb_with_little_memory(
    tmp_path: Path, bomb: bytes, serve: Callable[[dict[str, Handler]], str]
) -> None:
    """The changes page is 1 MiB of gzip inflating to 1 GiB: one plain line, exit 1, peak RSS < 200 MB."""
    url = serve({"/api/v1/time": time_answer, "/api/v1/changes": gzip_bomb(bomb)})
    config = write_config(tmp_path, url, "gw-test", "secret")
    anjungan = str(Path(sys.executable).with_name("anjungan"))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, anjungan, "--config", str(config), "sync", "now", "--attempts", "1"],
        capture_output=True,
        text=True,
        timeout=360,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    elapsed = time.monotonic() - started
    peak = int(done.stdout.strip())
    lines = [line for line in done.stderr.splitlines() if line.startswith("anjungan:")]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1, done.stderr
    assert "GET /api/v1/changes" in lines[0] and "larger than 16 MiB once unpacked" in lines[0], lines
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak >> 20} MiB"
    print(f"sync now against a 1 GiB gzip bomb: peak RSS {peak >> 20} MiB, {elapsed:.1f} s")


# -- every kind of answer ----------------------------------------------------------------------------------


def test_batch_answer_bomb_is_refused(bomb: bytes, serve: Callable[[dict[str, Handler]], str]) -> None:
    central = central_at(serve({"/api/v1/batches": gzip_bomb(bomb)}))
    body = gzip.compress(b'{"stream":"events","records":[]}')
    peak, raised = peak_traced(
        lambda: central.post_json("/api/v1/batches", body, {"Content-Encoding": "gzip"})
    )
    central.close()
    assert isinstance(raised, TransientError), raised
    assert "POST /api/v1/batches is larger than 16 MiB once unpacked" in str(raised)
    assert peak < PEAK_TRACED_LIMIT, f"peak {peak >> 20} MiB"


def test_refusal_bomb_is_classified_by_its_status(
    bomb: bytes, serve: Callable[[dict[str, Handler]], str]
) -> None:
    """A 500 whose body is a bomb: still a plain transient 500, its body read to 64 KiB at most."""
    central = central_at(serve({"/api/v1/changes": gzip_bomb(bomb, status=500)}))
    peak, raised = peak_traced(lambda: central.get_json("/api/v1/changes?since="))
    central.close()
    assert isinstance(raised, TransientError), raised
    assert "answered 500" in str(raised)
    assert peak < 4 << 20, f"peak {peak >> 20} MiB"


def test_time_answer_bomb_leaves_the_clock_unlearned(
    tmp_path: Path, bomb: bytes, serve: Callable[[dict[str, Handler]], str]
) -> None:
    central = central_at(serve({"/api/v1/time": gzip_bomb(bomb)}))
    with Store.open(tmp_path / "store.db") as store:
        clock = Clock(store)
        peak, raised = peak_traced(lambda: clock.learn(central))
        assert not clock.known
    central.close()
    assert isinstance(raised, TransientError) and "GET /api/v1/time is larger than" in str(raised), raised
    assert peak < PEAK_TRACED_LIMIT, f"peak {peak >> 20} MiB"


def test_plain_oversized_answer_is_refused_before_reading(serve: Callable[[dict[str, Handler]], str]) -> None:
    """No gzip, but a Content-Length beyond the cap: refused from the headers alone."""

    def huge(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(BOMB_INFLATED))
        request.end_headers()
        request.wfile.write(b"{" * 1024)

    central = central_at(serve({"/api/v1/changes": huge}))
    with pytest.raises(TransientError, match="larger than 16 MiB"):
        central.get_json("/api/v1/changes?since=")
    central.close()


def test_an_answer_that_never_ends_is_stopped_in_time(serve: Callable[[dict[str, Handler]], str]) -> None:
    """Bytes keep coming (every read is quick) but the answer never ends: stopped after ``timeout_s``."""
    central = central_at(serve({"/api/v1/time": trickle}), timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(TransientError, match="took longer than 1 s to arrive"):
        central.get_json("/api/v1/time", signed=False)
    assert time.monotonic() - started < 30  # bounded by timeout_s plus one read, far below the 100 s trickle
    central.close()


def test_file_larger_than_announced_is_refused(
    tmp_path: Path, bomb: bytes, serve: Callable[[dict[str, Handler]], str]
) -> None:
    """A document announced at 1,000 bytes whose download goes on (no Content-Length): stopped at 1,000."""
    content = b"%PDF-1.4 " + bytes(991)
    sha256 = hashlib.sha256(content).hexdigest()

    def endless(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/octet-stream")
        request.end_headers()
        for _ in range(BOMB_INFLATED >> 16):
            request.wfile.write(bytes(1 << 16))

    central = central_at(serve({f"/api/v1/files/{sha256}": endless}))
    target = tmp_path / "files" / sha256
    peak, raised = peak_traced(lambda: downlink.fetch_file(central, sha256, target, size=len(content)))
    central.close()
    assert isinstance(raised, downlink.OversizeError), raised
    assert "larger than announced" in str(raised)
    part = target.with_name(target.name + ".part")
    assert not target.exists() and (not part.exists() or part.stat().st_size <= len(content))
    assert peak < 4 << 20, f"peak {peak >> 20} MiB"


def test_file_with_a_gzip_bomb_is_refused(
    tmp_path: Path, bomb: bytes, serve: Callable[[dict[str, Handler]], str]
) -> None:
    """Files are asked for as identity; an answer encoded anyway is refused, never inflated."""
    sha256 = "ab" * 32
    central = central_at(serve({f"/api/v1/files/{sha256}": gzip_bomb(bomb)}))
    with pytest.raises(TransientError, match="encoded as 'gzip'"):
        downlink.fetch_file(central, sha256, tmp_path / "files" / sha256, size=5000)
    central.close()
