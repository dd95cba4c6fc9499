"""Benchmark of the sync client: a 1,000,000-reading backlog drained to a local central.

The backlog is written fast through the store's own writer (200,000 frames x 5 readings, 20 nodes) and drained
to `anjungan central serve` in its own process, on SQLite and then on PostgreSQL; then bench/central.py's
measurement of 100 concurrent gateways into a PostgreSQL central. Prints the figures, then as its LAST line
one JSON object: ``drain_1m_s`` (SQLite central), ``wire_bytes_per_reading`` (request body bytes per reading at
1,000 readings per batch), ``central_rows_per_s`` (PostgreSQL, 100 gateways) and the per-backend drains.

    .venv/bin/python bench/sync.py [--readings 1000000] [--central-db sqlite|postgresql|both] [--no-fleet]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.frame import Frame  # noqa: E402
from gateway.store import Store  # noqa: E402
from sync import protocol  # noqa: E402
from sync.client import Settings, SyncClient  # noqa: E402
from tests.fixtures.mosquitto import free_port, wait_port  # noqa: E402

NAMES = ("water_cm", "temp_c", "rh_pct", "rain_mm", "bat_v")
ANJUNGAN = str(Path(sys.executable).parent / "anjungan")


def write_backlog(store: Store, frames: int, nodes: int = 20) -> float:
    """Readings as the field makes them: a frame every minute per node, values that move a little."""
    started = time.perf_counter()
    writer = store.writer()
    t0 = 1_790_000_000_000
    for first in range(0, frames, 20_000):
        batch = []
        for i in range(first, min(frames, first + 20_000)):
            k = i // nodes
            values = {"water_cm": round(120 + (k % 300) * 0.1, 1), "temp_c": round(26 + (k % 60) * 0.1, 1),
                      "rh_pct": float(75 + k % 20), "rain_mm": round((k % 17) * 0.2, 1),
                      "bat_v": round(3.60 + (k % 9) * 0.01, 2)}  # fmt: skip
            batch.append(Frame("r", f"node-{i % nodes:02d}", 1, k, values))
        writer.write(batch, at=t0 + (first // nodes) * 60_000, timeout=300)
    return time.perf_counter() - started


def encoded_bytes(store: Store, per_batch: int, limit: int) -> dict[str, float]:
    """Body bytes per reading of the first ``limit`` readings, in batches of ``per_batch``: rows vs columns."""
    out = {"rows_gzip": 0, "columnar_gzip": 0, "rows_plain": 0}
    seq = count = 0
    while count < limit:
        records = store.readings_after(seq, per_batch)
        if not records:
            break
        out["rows_gzip"] += len(protocol.encode_batch("readings", records, after=seq, columnar=False)[0])
        out["columnar_gzip"] += len(protocol.encode_batch("readings", records, after=seq, columnar=True)[0])
        out["rows_plain"] += len(
            protocol.encode_batch("readings", records, after=seq, columnar=False, compress=False)[0]
        )
        seq, count = records[-1]["seq"], count + len(records)
    return {k: round(v / count, 3) for k, v in out.items()}


class CentralProcess:
    """The real central (`anjungan central serve`) in its own process."""

    def __init__(self, workdir: Path, db_url: str | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.db = db_url or f"sqlite:///{workdir}/central.db"
        self.proc: subprocess.Popen[bytes] | None = None
        self.creds: dict[str, str] = {}

    def start(self) -> None:
        base = [ANJUNGAN, "central", "--db", self.db, "--files-dir", str(self.workdir / "files")]
        out = subprocess.run([*base, "add-gateway", "bench-gw"], check=True, capture_output=True, text=True)
        self.creds = json.loads(out.stdout.strip().splitlines()[-1])
        log = (self.workdir / "central.log").open("wb")
        argv = [*base, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        wait_port("127.0.0.1", self.port, 30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def drain(
    store: Store, central: CentralProcess, data_dir: Path, batch_max: int
) -> tuple[float, float, int, int]:
    """Drain the backlog; answer (seconds, seconds waiting for the central, body bytes, records)."""
    settings = Settings(url=central.url, gateway_id=central.creds["gateway_id"], secret=central.creds["secret"],
                        data_dir=data_dir, batch_max=batch_max, timeout_s=300)  # fmt: skip
    with SyncClient(store, settings) as client:
        waited = [0.0]
        post = client.central.post_json

        def timed_post(*args: Any) -> dict[str, Any]:
            begun = time.perf_counter()
            try:
                return post(*args)
            finally:
                waited[0] += time.perf_counter() - begun

        client.central.post_json = timed_post  # type: ignore[method-assign]
        started = time.perf_counter()
        client.uplink.drain()
        seconds = time.perf_counter() - started
        return seconds, waited[0], client.central.body_bytes, client.uplink.sent_records


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL server, started as the tests start theirs (tests/fixtures/postgres.py)."""
    from tests.fixtures import postgres

    fixture = postgres.postgres_url._get_wrapped_function()  # type: ignore[attr-defined]
    gen = fixture()
    try:
        yield next(gen)
    finally:
        gen.close()


def drain_to(store: Store, workdir: Path, backend: str, batch_max: int) -> dict[str, Any]:
    """Drain the whole backlog to a fresh central on ``backend``; the store's acks are reset first."""
    store.conn.execute("UPDATE sync_state SET acked = 0")  # autocommit: the next drain starts from the start
    (workdir / backend).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_server()) if backend == "postgresql" else None
        central = CentralProcess(workdir / backend, url)
        central.start()
        stack.callback(central.stop)
        seconds, waited, body, sent = drain(store, central, workdir / "data", batch_max)
    print(f"drained {sent:,} readings to anjungan central ({backend}) in {seconds:.1f} s "
          f"({sent / seconds:,.0f} rows/s end to end), {body / max(sent, 1):.2f} body bytes/reading "
          f"at up to {batch_max} per batch; waiting for the central: {waited:.1f} s")  # fmt: skip
    return {
        "seconds_1m": round(seconds * 1_000_000 / max(sent, 1), 2),
        "rows_per_s": round(sent / seconds),
        "client_side_s_per_1m": round((seconds - waited) * 1_000_000 / max(sent, 1), 2),
        "readings": sent,
    }


def fleet_rate() -> dict[str, Any]:
    """bench/central.py's measurement: 100 concurrent gateways into a PostgreSQL central."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_central", Path(__file__).with_name("central.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = argparse.Namespace(gateways=100, batches=5, batch_size=1000, workers=(os.cpu_count() or 2) + 1,
                              threads=8)  # fmt: skip
    with module.running_postgres(max_connections=300, durable=True) as db_url:
        figures = module.run(db_url, args)
    print(f"100 gateways into a PostgreSQL central: {figures['rows_per_s']:,.0f} rows/s")
    return dict(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch-max", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="Keep the work files in this folder.")
    parser.add_argument("--central-db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--no-fleet", action="store_true", help="skip the 100-gateway PostgreSQL measurement")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="anjungan-bench-sync-"))
    workdir.mkdir(parents=True, exist_ok=True)
    frames = args.readings // len(NAMES)
    backends = ["sqlite", "postgresql"] if args.central_db == "both" else [args.central_db]
    try:
        with Store.open(workdir / "data" / "anjungan.db", budget_bytes=None) as store:
            store.set_meta("clock_offset_ms", "0")
            written = write_backlog(store, frames)
            print(f"backlog: {frames * len(NAMES):,} readings written in {written:.1f} s")
            sizes = encoded_bytes(store, 1000, min(100_000, frames * len(NAMES)))
            print(f"bytes/reading at 1,000 per batch: {sizes}")
            drains = {backend: drain_to(store, workdir, backend, args.batch_max) for backend in backends}
        fleet = None if args.no_fleet else fleet_rate()
        first = drains["sqlite"] if "sqlite" in drains else drains[backends[0]]
        figures = {
            "drain_1m_s": first["seconds_1m"],
            "wire_bytes_per_reading": sizes["columnar_gzip"],
            "central_rows_per_s": round(fleet["rows_per_s"]) if fleet else None,
            "central_rows_per_s_measured_on": "PostgreSQL, 100 concurrent gateways (bench/central.py)",
            **{f"drain_1m_s_{backend}": d["seconds_1m"] for backend, d in drains.items()},
            **{f"drain_rows_per_s_{backend}": d["rows_per_s"] for backend, d in drains.items()},
            "client_side_s_per_1m": first["client_side_s_per_1m"],
            "batch_max": args.batch_max,
        }
        print(json.dumps(figures))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("ANJUNGAN_CONFIG", None)
    main()
