"""Kiosk latency and memory: p50/p99 of the home, DIP and conditions pages at 50 concurrent clients.

The kiosk is served by ``anjungan kiosk`` (waitress) in a subprocess over a store seeded with the sample
content and 7 days of readings from three nodes; 50 client threads (http.client, keep-alive) request the pages
in turn for a bounded time and count. The kiosk process's RSS is read from /proc/<pid>/status.
The LAST line is one JSON object with ``p99_ms`` and ``rss_mb`` (target: p99 <= 50 ms).

    .venv/bin/python bench/kiosk.py [--clients 50] [--seconds 10] [--requests-per-client 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway import config as config_mod  # noqa: E402
from gateway.frame import Frame  # noqa: E402
from gateway.sample_content import seed  # noqa: E402
from gateway.store import Store, db  # noqa: E402

PAGES = {"home": "/", "dip": "/informasi/berkala", "conditions": "/kondisi"}
TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(folder: Path, port: int) -> Path:
    path = folder / "anjungan.toml"
    overrides = {
        "gateway": {"id": "bench-kiosk", "data_dir": "data"},
        "kiosk": {"port": port},
        "mqtt": {"host": ""},
    }
    path.write_text(config_mod.commented_toml(overrides))
    cfg = config_mod.load(path, env={})
    with Store.from_config(cfg) as store:
        seed(store, cfg)
        writer = store.writer()
        now = db.now_ms()
        steps = 7 * 24 * 12
        frames = []
        for q in range(steps + 1):
            at = now - (steps - q) * 300_000
            wave = math.sin(q / 40)
            frames.append(([Frame("r", "dmk-wl-01", 1, q, {"water_cm": 120 + 20 * wave}),
                            Frame("r", "dmk-wx-01", 1, q, {"rain_mm": max(0.0, 3 * wave), "temp_c": 28 + 2 * wave,
                                                           "rh_pct": 80 - 8 * wave}),
                            Frame("r", "dmk-pw-01", 1, q, {"mains_v": 224.0})], at))  # fmt: skip
        for group, at in frames:
            writer.submit(group, at=at)
        writer.write([], at=now)  # a barrier: everything before it is committed
    return path


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the kiosk exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the kiosk did not start")


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def client(
    port: int, deadline: float, count: int, offset: int, out: dict[str, list[float]], errors: list[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    names = list(PAGES)
    try:
        for i in range(count):
            if time.monotonic() > deadline:
                break
            name = names[(i + offset) % len(names)]
            start = time.perf_counter()
            conn.request("GET", PAGES[name])
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status != 200:
                errors.append(f"{name}: {response.status}")
            out[name].append(elapsed)
    except (OSError, http.client.HTTPException) as err:
        errors.append(f"{type(err).__name__}: {err}")
    finally:
        conn.close()


PEER_APP = """
import sys, waitress
body = b"x" * 6000
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), _quiet=True)
"""


def load(
    port: int, clients: int, seconds: float, per_client: int
) -> tuple[dict[str, list[float]], list[str], float]:
    """Run the clients against the server on ``port``; returns latencies per page, errors and wall time."""
    results: dict[str, list[float]] = {name: [] for name in PAGES}
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, name=f"bench-client-{i}",
                                args=(port, deadline, per_client, i, results, errors))
               for i in range(clients)]  # fmt: skip
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors, time.monotonic() - started


def peer_p99(args: argparse.Namespace) -> float:
    """p99 of the same load against an empty WSGI app on waitress: the floor on this machine."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", PEER_APP, str(port), str(args.threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(port, proc)
        results, _errors, _wall = load(port, args.clients, args.seconds, args.requests_per_client)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return percentile([v for values in results.values() for v in values], 99)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests-per-client", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4, help="waitress threads of the kiosk (its default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anjungan-bench-kiosk-") as tmp:
        port = free_port()
        path = prepare(Path(tmp), port)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(path), "kiosk", "--port", str(port),
                                 "--threads", str(args.threads)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        try:
            wait_for(port, proc)
            idle_rss, _ = rss_mb(proc.pid)
            warm: dict[str, list[float]] = {name: [] for name in PAGES}
            client(port, time.monotonic() + 30, len(PAGES) * 2, 0, warm, [])
            results, errors, wall = load(port, args.clients, args.seconds, args.requests_per_client)
            rss, peak = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    peer = peer_p99(args)
    every = [v for values in results.values() for v in values]
    print(
        f"kiosk bench: {args.clients} clients, {len(every)} requests in {wall:.1f} s ({len(every) / wall:.0f} req/s)"
    )
    print(f"{'page':<12}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    per_page = {}
    for name, values in results.items():
        per_page[name] = {"count": len(values), "p50_ms": round(statistics.median(values), 2),
                          "p99_ms": round(percentile(values, 99), 2)}  # fmt: skip
        print(f"{name:<12}{len(values):>8}{statistics.median(values):>10.2f}{percentile(values, 99):>10.2f}"
              f"{max(values):>10.2f}")  # fmt: skip
    p99 = percentile(every, 99)
    print(f"all: p50 {statistics.median(every):.2f} ms, p99 {p99:.2f} ms (target {TARGET_P99_MS:.0f} ms, "
          f"ratio {p99 / TARGET_P99_MS:.2f}); RSS {rss:.1f} MiB (idle {idle_rss:.1f}, peak {peak:.1f}); "
          f"errors {len(errors)}")  # fmt: skip
    print(f"peer (an empty WSGI app on waitress, same load): p99 {peer:.2f} ms; kiosk/peer {p99 / peer:.2f}")
    summary = {"p50_ms": round(statistics.median(every), 2), "p99_ms": round(p99, 2), "rss_mb": round(rss, 1),
               "rss_peak_mb": round(peak, 1), "rss_idle_mb": round(idle_rss, 1), "clients": args.clients,
               "requests": len(every), "req_per_s": round(len(every) / wall, 1), "errors": len(errors),
               "target_p99_ms": TARGET_P99_MS, "peer_p99_ms": round(peer, 2), "pages": per_page}  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
