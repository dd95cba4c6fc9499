"""Bounded load tests on loopback against the central in its own processes (waitress and gunicorn).

- The connection pools of several gunicorn workers fit a PostgreSQL with max_connections=20, leave room for
  operators, and are released when idle.
- The central checks who is asking before it reads a body: unknown ids and bad signatures get one identical
  answer, and the memory that requests in flight can take stays bounded.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from gateway.errors import ConfigError
from sync import protocol
from sync.central import service
from sync.central.app import MAX_BODY, create_app, open_central
from sync.central.settings import CentralSettings
from tests.central.conftest import readings
from tests.fixtures.mosquitto import free_port
from tests.fixtures.postgres import running_postgres

BIN = Path(sys.executable).parent


def wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the central did not start: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/api/v1/time", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"the central did not answer within 90 s: {log.read_text()[-2000:]}")


@contextmanager
def central_process(argv: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[tuple[str, int]]:
    """The central in its own process group; yields (url, pid of the serving process)."""
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def pg_client_connections(admin: psycopg.Connection, database: str) -> int:
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()",
        (database,),
    ).fetchone()[0]


# --- issue 9, 6. connections are bounded -----------------------------------------------------------------------


@pytest.mark.timeout(600)  # initdb, three gunicorn workers, 150 batches and a 30,000-line export
def test_three_workers_fit_a_small_postgresql_and_release_idle_connections(tmp_path: Path) -> None:
    with running_postgres(max_connections=20) as server:
        env = {
            "ANJUNGAN_CENTRAL_DB": server,
            "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key"),
            "ANJUNGAN_CENTRAL_SERVER_FILES": str(tmp_path / "files"),
            "ANJUNGAN_CENTRAL_SERVER_WORKERS": "3",
            "ANJUNGAN_CENTRAL_SERVER_POOL_SIZE": "3",
            "ANJUNGAN_CENTRAL_SERVER_IDLE_S": "1",
            "ANJUNGAN_CENTRAL_SERVER_POOL_TIMEOUT_S": "10",
        }
        state = open_central(settings=CentralSettings.from_env(env))
        secrets = {f"gw-{i:02d}": service.add_gateway(state.engine, state.master_key, f"gw-{i:02d}")["secret"]
                   for i in range(30)}  # fmt: skip
        state.engine.dispose()
        admin = psycopg.connect(make_url(server).set(drivername="postgresql").render_as_string(False),
                                autocommit=True)  # fmt: skip
        port = free_port()
        argv = [str(BIN / "gunicorn"), "-w", "3", "-k", "gthread", "--threads", "6", "-b", f"127.0.0.1:{port}",
                "sync.central.wsgi:app"]  # fmt: skip
        statuses: list[int] = []
        most = 0
        with central_process(argv, env, tmp_path / "gunicorn.log", port) as (url, _pid):

            def gateway(gateway_id: str, secret: str) -> None:
                session = requests.Session()
                for first in range(1, 1001, 200):
                    batch = [{**r, "node": gateway_id} for r in readings(first, first + 199)]
                    body, headers = protocol.encode_batch("readings", batch)
                    for _attempt in range(20):  # a 503 is retried, as a gateway does
                        signed = protocol.signed_headers(gateway_id, secret, "POST", "/api/v1/batches", body,
                                                         time.time())  # fmt: skip
                        answer = session.post(url + "/api/v1/batches", data=body, headers={**headers, **signed},
                                              timeout=60)  # fmt: skip
                        statuses.append(answer.status_code)
                        if answer.status_code != 503:
                            break
                    assert answer.status_code == 200 and answer.json()["acked"] == first + 199, answer.text
                session.close()

            threads = [threading.Thread(target=gateway, args=item) for item in secrets.items()]
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                most = max(most, pg_client_connections(admin, "postgres"))
                time.sleep(0.05)
            for thread in threads:
                thread.join()
            assert statuses.count(200) == 150 and set(statuses) <= {200, 503}, sorted(set(statuses))
            assert most <= 3 * 3, most  # workers x pool: the rest of max_connections stays free
            deadline = time.monotonic() + 30  # idle connections are given back to the server
            while pg_client_connections(admin, "postgres") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert pg_client_connections(admin, "postgres") == 0
            done = subprocess.run([str(BIN / "anjungan"), "central", "export", "readings"], capture_output=True,
                                  text=True, env={**os.environ, **env}, timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr  # an operator's command while the workers run
            assert len(done.stdout.splitlines()) == 30 * 1000
        log = (tmp_path / "gunicorn.log").read_text()
        assert "too many clients" not in log
        admin.close()
        too_big = CentralSettings.from_env({**env, "ANJUNGAN_CENTRAL_SERVER_WORKERS": "5",
                                            "ANJUNGAN_CENTRAL_SERVER_POOL_SIZE": "4"})  # fmt: skip
        with pytest.raises(ConfigError, match=r"max_connections=20 .* 5 worker\(s\) x 4 connection\(s\)"):
            create_app(settings=too_big)


# --- issue 10, 7. nothing is read before the central knows who is asking ------------------------------------------


def raw_request(port: int, headers: dict[str, str], body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """POST /api/v1/batches by hand; sends ``body`` (maybe less than Content-Length says), reads the answer."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"POST /api/v1/batches HTTP/1.1\r\nHost: central\r\n{head}\r\n".encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture
def registered(tmp_path: Path) -> tuple[dict[str, str], str]:
    env = {
        "ANJUNGAN_CENTRAL_DB": f"sqlite:///{tmp_path / 'central.db'}",
        "ANJUNGAN_CENTRAL_SERVER_INFLIGHT_MB": "16",
    }
    state = open_central(settings=CentralSettings.from_env(env))
    secret = service.add_gateway(state.engine, state.master_key, "gw-a")["secret"]
    state.engine.dispose()
    return env, secret


def test_unknown_ids_and_bad_signatures_are_refused_before_the_body(tmp_path: Path, registered) -> None:
    env, secret = registered
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}",
            "sync.central.wsgi:app"]  # fmt: skip
    with central_process(argv, env, tmp_path / "gunicorn.log", port):
        stamp = str(int(time.time()))
        announced = {"Content-Length": str(MAX_BODY - 1), "Content-Type": "application/json",
                     "X-Anjungan-Timestamp": stamp, "X-Anjungan-Signature": "0" * 64}  # fmt: skip
        # only 1 KiB of the announced 16 MiB is ever sent: an answer proves the body was not awaited
        unknown = raw_request(port, {**announced, "X-Anjungan-Gateway": "gw-nobody"}, b"x" * 1024)
        skewed = raw_request(port, {**announced, "X-Anjungan-Gateway": "gw-a",
                                    "X-Anjungan-Timestamp": str(int(time.time()) - 3600)}, b"x" * 1024)  # fmt: skip
        assert unknown[0] == 401 and json.loads(unknown[1])["error"] == "bad signature"
        assert skewed[0] == 401 and json.loads(skewed[1])["error"] == "clock skew"
        body = b"{}"
        bad = raw_request(port, {**announced, "Content-Length": "2", "X-Anjungan-Gateway": "gw-a"}, body)
        assert bad == unknown  # an unknown id and a bad signature: the same answer, byte for byte
        good = protocol.signed_headers("gw-a", secret, "POST", "/api/v1/batches", body, time.time())
        assert (
            raw_request(port, {**announced, "Content-Length": "2", **good}, body)[0] == 400
        )  # known, signed


def test_requests_in_flight_take_bounded_memory(tmp_path: Path, registered) -> None:
    env, _secret = registered
    port = free_port()
    argv = [str(BIN / "anjungan"), "central", "serve", "--port", str(port), "--threads", "16"]
    with central_process(argv, env, tmp_path / "serve.log", port) as (_url, pid):
        before = vm_hwm_kib(pid)
        payload = os.urandom(MAX_BODY - 4096)  # the largest body the central takes
        answers: list[tuple[int, bytes]] = []

        def attacker(gateway_id: str) -> None:
            headers = {"Content-Length": str(len(payload)), "X-Anjungan-Gateway": gateway_id,
                       "X-Anjungan-Timestamp": str(int(time.time())), "X-Anjungan-Signature": "0" * 64}  # fmt: skip
            answers.append(raw_request(port, headers, payload, timeout=120))

        for _wave in range(
            2
        ):  # 16 requests of 16 MiB, 8 at a time: unknown ids and bad signatures of a real one
            wave = [threading.Thread(target=attacker, args=(g,)) for g in ["gw-nobody", "gw-a"] * 4]
            for thread in wave:
                thread.start()
            for thread in wave:
                thread.join(180)
        grown_mib = (vm_hwm_kib(pid) - before) / 1024
    assert len(answers) == 16 and {status for status, _ in answers} <= {401, 503}
    assert sum(1 for status, _ in answers if status == 401) >= 8
    assert grown_mib < 64, f"peak memory grew by {grown_mib:.0f} MiB"


# --- a forger can slow only the id it names; slow bodies are cut; decoding is bounded -------------------------


def _register(env: dict[str, str], *names: str) -> dict[str, str]:
    state = open_central(settings=CentralSettings.from_env(env))
    try:
        return {name: service.add_gateway(state.engine, state.master_key, name)["secret"] for name in names}
    finally:
        state.engine.dispose()


def _signed_batch(port: int, gateway_id: str, secret: str, first: int) -> int:
    body, headers = protocol.encode_batch(
        "readings", [{**r, "node": gateway_id} for r in readings(first, first)]
    )
    signed = protocol.signed_headers(gateway_id, secret, "POST", "/api/v1/batches", body, time.time())
    return requests.post(f"http://127.0.0.1:{port}/api/v1/batches", data=body, headers={**headers, **signed},
                         timeout=60).status_code  # fmt: skip


class Trickle(threading.Thread):
    """A request announcing a body of ``length`` bytes for ``gateway_id`` (no valid signature needed) that
    sends it a byte every 0.2 s; ``status`` is the central's answer (None: none within 120 s)."""

    def __init__(self, port: int, gateway_id: str, length: int):
        super().__init__(name=f"trickle-{gateway_id}", daemon=True)
        self.port, self.gateway_id, self.length = port, gateway_id, length
        self.status: int | None = None

    def run(self) -> None:
        head = (f"POST /api/v1/batches HTTP/1.1\r\nHost: central\r\nContent-Length: {self.length}\r\n"
                f"X-Anjungan-Gateway: {self.gateway_id}\r\nX-Anjungan-Timestamp: {int(time.time())}\r\n"
                f"X-Anjungan-Signature: {'0' * 64}\r\n\r\n")  # fmt: skip
        with socket.create_connection(("127.0.0.1", self.port), timeout=120) as sock:
            sock.sendall(head.encode())
            sock.settimeout(0.2)
            deadline = time.monotonic() + 120
            data = b""
            while time.monotonic() < deadline and b"\r\n" not in data:
                with contextlib.suppress(OSError):  # the central stopped reading: its answer is on its way
                    sock.sendall(b"x")
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                data += chunk
        if data.startswith(b"HTTP/1.1 "):
            self.status = int(data.split(b" ", 2)[1])


def test_a_slow_body_holds_only_the_id_it_names_and_is_cut(tmp_path: Path) -> None:
    env = {
        "ANJUNGAN_CENTRAL_DB": f"sqlite:///{tmp_path / 'central.db'}",
        "ANJUNGAN_CENTRAL_SERVER_POOL_TIMEOUT_S": "1",
        "ANJUNGAN_CENTRAL_SERVER_BODY_GRACE_S": "15",
        "ANJUNGAN_CENTRAL_SERVER_BODY_MIN_RATE_KIB": "1",
    }
    secrets = _register(env, "gw-a", "gw-b")
    port = free_port()
    argv = [str(BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
            "sync.central.wsgi:app"]  # fmt: skip
    with central_process(argv, env, tmp_path / "gunicorn.log", port):
        started = time.monotonic()
        trickles = [
            Trickle(port, "gw-a", MAX_BODY) for _ in range(4)
        ]  # 4 x 16 MiB announced, as in the trial
        for trickle in trickles:
            trickle.start()
        deadline = time.monotonic() + 12
        while _signed_batch(port, "gw-a", secrets["gw-a"], 1) != 503:  # a forger holds gw-a's share
            assert time.monotonic() < deadline, "no forged body took gw-a's share"
        assert _signed_batch(port, "gw-b", secrets["gw-b"], 1) == 200  # every other gateway goes on
        assert time.monotonic() - started < 15, "the check came after the grace: the test proves nothing"
        for trickle in trickles:
            trickle.join(120)
        statuses = sorted(t.status for t in trickles if t.status is not None)
        assert len(statuses) == 4 and set(statuses) <= {408, 503} and 408 in statuses, statuses
        assert _signed_batch(port, "gw-a", secrets["gw-a"], 1) == 200  # cut: gw-a's share is free again


def _bomb(secret: str) -> bytes:
    """A gzip body of about 2.5 MiB that inflates to 62 MiB of small event records."""
    record = b'{"seq":%d,"at":0,"offset":null,"node":null,"kind":"k","data":{}}'
    parts = [b'{"stream":"events","records":[']
    parts += [b",".join(record % seq for seq in range(start, start + 10_000)) + b","
              for start in range(1, 940_001, 10_000)]  # fmt: skip
    parts.append(record % 940_001 + b"]}")
    return gzip.compress(b"".join(parts), compresslevel=9, mtime=0)


def test_decoding_batches_takes_bounded_memory(tmp_path: Path, registered) -> None:
    env, secret = registered
    body = _bomb(secret)
    port = free_port()
    argv = [str(BIN / "anjungan"), "central", "serve", "--port", str(port), "--threads", "8"]
    with central_process(argv, env, tmp_path / "serve.log", port) as (_url, pid):
        before = vm_hwm_kib(pid)
        answers: list[int] = []

        def post() -> None:
            headers = protocol.signed_headers("gw-a", secret, "POST", "/api/v1/batches", body, time.time())
            answers.append(requests.post(f"http://127.0.0.1:{port}/api/v1/batches", data=body, timeout=120,
                                         headers={**headers, "Content-Encoding": "gzip"}).status_code)  # fmt: skip

        wave = [threading.Thread(target=post) for _ in range(4)]
        for thread in wave:
            thread.start()
        for thread in wave:
            thread.join(180)
        grown_mib = (vm_hwm_kib(pid) - before) / 1024
    print(
        f"4 gzip batches inflating to 62 MiB each: answers {sorted(answers)}, peak memory +{grown_mib:.0f} MiB"
    )
    assert len(answers) == 4 and set(answers) <= {413, 503} and 413 in answers, answers  # 503: budget full
    assert grown_mib < 100, f"peak memory grew by {grown_mib:.0f} MiB"
