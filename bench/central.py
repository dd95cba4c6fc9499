"""Central ingest rate: 100 simulated gateways post columnar readings batches concurrently to the central on
PostgreSQL (gunicorn workers on loopback), as rows stored per second.

Starts its own PostgreSQL server (durable: fsync on) unless --db is given. Prints a table, then as the last
line one JSON object with ``central_rows_per_s``. Target: >= 30,000 rows/s.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync import protocol  # noqa: E402
from sync.central import service  # noqa: E402
from sync.central.app import open_central  # noqa: E402
from tests.central.test_protocol import synthetic_readings  # noqa: E402
from tests.fixtures.postgres import running_postgres  # noqa: E402

TARGET = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def central_server(db_url: str, workdir: Path, workers: int, threads: int) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "ANJUNGAN_CENTRAL_DB": db_url,
        "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(workdir / "central.key"),
        "ANJUNGAN_CENTRAL_SERVER_FILES": str(workdir / "files"),
        "ANJUNGAN_CENTRAL_SERVER_WORKERS": str(workers),
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn,
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
    ]
    process = subprocess.Popen(
        [*argv, "--log-level", "warning", "sync.central.wsgi:app"], env=env, cwd=workdir
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/api/v1/time")
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the central did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prepare(
    db_url: str, workdir: Path, gateways: int, batches: int, size: int
) -> list[tuple[str, str, list]]:
    state = open_central(db_url, key_file=workdir / "central.key", files_dir=workdir / "files")
    records = synthetic_readings(batches * size)
    plan = []
    for g in range(gateways):  # each gateway its own nodes: the central refuses a node another gateway owns
        own = [{**r, "node": f"b{g:03d}-{r['node'].rsplit('-', 1)[1]}"} for r in records]
        bodies = [protocol.encode_batch("readings", own[i * size : (i + 1) * size]) for i in range(batches)]
        issued = service.add_gateway(state.engine, state.master_key, f"bench-{g:03d}")
        plan.append((issued["gateway_id"], issued["secret"], bodies))
    state.engine.dispose()
    return plan


def gateway_loop(port: int, gateway_id: str, secret: str, bodies: list, results: list, errors: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for body, headers in bodies:  # bounded: one pass over the prepared batches
            signed = protocol.signed_headers(gateway_id, secret, "POST", "/api/v1/batches", body, time.time())
            connection.request("POST", "/api/v1/batches", body=body, headers={**headers, **signed})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                errors.append(f"{gateway_id}: {response.status} {answer[:200]!r}")
                return
            results.append(json.loads(answer)["acked"])
    finally:
        connection.close()


def run(db_url: str, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="anjungan-bench-central-"))
    try:
        plan = prepare(db_url, workdir, args.gateways, args.batches, args.batch_size)
        wire = sum(len(body) for body, _ in plan[0][2]) / (args.batches * args.batch_size)
        with central_server(db_url, workdir, args.workers, args.threads) as port:
            results: list[int] = []
            errors: list[str] = []
            threads = [
                threading.Thread(
                    target=gateway_loop, args=(port, gw, secret, bodies, results, errors), name=gw
                )
                for gw, secret, bodies in plan
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError("; ".join(errors[:3]))
        rows = args.gateways * args.batches * args.batch_size
        return {"rows": rows, "elapsed_s": elapsed, "rows_per_s": rows / elapsed, "bytes_per_reading": wire}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="PostgreSQL URL (default: start a private server)")
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--batches", type=int, default=5, help="batches per gateway")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        db_url = args.db or stack.enter_context(running_postgres(max_connections=300, durable=True))
        figures = run(db_url, args)
    rate = figures["rows_per_s"]
    print(f"{'gateways':>10} {'batches':>8} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'B/reading':>9}")
    print(
        f"{args.gateways:>10} {args.gateways * args.batches:>8} {figures['rows']:>9} {figures['elapsed_s']:>8.2f} "
        f"{rate:>9.0f} {figures['bytes_per_reading']:>9.2f}"
    )
    print(f"target {TARGET} rows/s: {'met' if rate >= TARGET else 'NOT met'} ({rate / TARGET:.2f}x)")
    print(json.dumps({"central_rows_per_s": round(rate), "target_rows_per_s": TARGET, **figures}))


if __name__ == "__main__":
    main()
