"""Benchmark (not a test): frames from several ptys through the serial readers into the committed store.

Four writer threads each feed a pseudo-terminal with reading frames of 5 measurements and interleaved noise
lines; the ingest's serial readers parse them and the store's writer commits them. Measured: frames/s and
readings/s end to end (until the last frame is committed), CPU microseconds per reading (process CPU time /
readings), and the ratio to the raw store rate, measured in the same run by submitting pre-parsed frames
to a fresh writer. The last line of output is one JSON object.

    .venv/bin/python bench/ingest.py [--ports 4] [--frames 20000] [--noise-every 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.frame import Frame, parse_line, reading_line  # noqa: E402
from gateway.ingest.service import Ingest, SerialPort  # noqa: E402
from gateway.store import Store  # noqa: E402

NOISE = b"W (12345) wifi: esp_wifi_connect 4359 wifi not started, retrying\r\n"
DEADLINE_S = 50.0


def node_lines(node: int, frames: int, noise_every: int) -> bytes:
    out = []
    for q in range(frames):
        values = {"water_cm": 100 + q % 50, "temp_c": 27.5, "hum_pct": 80.1, "bat_v": 3.91, "rssi_dbm": -67}
        out.append(reading_line(f"bench-{node:02d}", 1, q, values))
        if noise_every and q % noise_every == 0:
            out.append(NOISE)
    return b"".join(out)


def feed(master: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(master, view[:4096]) :]


def count_frames(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM frames").fetchone()[0])


def bench_ingest(workdir: Path, ports: int, frames: int, noise_every: int) -> dict[str, float]:
    payloads = [node_lines(i, frames, noise_every) for i in range(ports)]
    ptys = []
    for _ in range(ports):
        master, slave = os.openpty()
        tty.setraw(slave)
        ptys.append((master, slave, os.ttyname(slave)))
    total = ports * frames
    try:
        with Store.open(workdir / "ingest.db") as store:
            ingest = Ingest(store, serial_ports=[SerialPort(p[2]) for p in ptys]).start()
            try:
                while not all(r.is_open.is_set() for r in ingest.serial_readers):
                    time.sleep(0.01)
                cpu0, t0 = time.process_time(), time.perf_counter()
                feeders = [threading.Thread(target=feed, args=(p[0], d), name="bench-feed") for p, d in zip(ptys, payloads, strict=True)]  # fmt: skip
                for thread in feeders:
                    thread.start()
                for thread in feeders:
                    thread.join()
                deadline = time.monotonic() + DEADLINE_S
                while count_frames(store) < total and time.monotonic() < deadline:
                    time.sleep(0.01)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                stored = count_frames(store)
                bytes_fed = sum(len(d) for d in payloads)
            finally:
                ingest.close()
    finally:
        for master, slave, _ in ptys:
            os.close(master)
            os.close(slave)
    readings = stored * 5
    return {
        "frames": stored,
        "expected": total,
        "seconds": elapsed,
        "frames_per_s": stored / elapsed,
        "readings_per_s": readings / elapsed,
        "cpu_us_per_reading": cpu * 1e6 / max(readings, 1),
        "mb_per_s": bytes_fed / elapsed / 1e6,
    }


def bench_store(workdir: Path, ports: int, frames: int) -> dict[str, float]:
    """The same frames, pre-parsed, submitted straight to a fresh writer (in batches, as readers do)."""
    parsed: list[list[Frame]] = []
    for i in range(ports):
        lines = node_lines(i, frames, 0).splitlines()
        parsed += [[parse_line(line) for line in lines[j : j + 50]] for j in range(0, len(lines), 50)]
    with Store.open(workdir / "store.db") as store:
        writer = store.writer()
        cpu0, t0 = time.process_time(), time.perf_counter()
        futures = [writer.submit(batch, source="bench") for batch in parsed]
        new = sum(f.result(60) for f in futures)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"frames": new, "seconds": elapsed, "frames_per_s": new / elapsed, "readings_per_s": new * 5 / elapsed,
            "cpu_us_per_reading": cpu * 1e6 / (new * 5)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=4)
    parser.add_argument("--frames", type=int, default=20000, help="frames per port")
    parser.add_argument("--noise-every", type=int, default=10, help="a noise line after every N frames")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anjungan-bench-") as tmp:
        ingest = bench_ingest(Path(tmp), args.ports, args.frames, args.noise_every)
        store = bench_store(Path(tmp), args.ports, args.frames)
    ratio = ingest["frames_per_s"] / store["frames_per_s"]
    print(
        f"ingest benchmark: {args.ports} ptys x {args.frames} frames of 5 readings, noise every {args.noise_every}"
    )
    print(f"{'path':<34}{'frames':>9}{'s':>8}{'frames/s':>11}{'readings/s':>12}{'CPU us/reading':>16}")
    for name, row in (
        ("serial -> parser -> store (ingest)", ingest),
        ("pre-parsed -> store (writer only)", store),
    ):
        print(f"{name:<34}{row['frames']:>9.0f}{row['seconds']:>8.2f}{row['frames_per_s']:>11.0f}"
              f"{row['readings_per_s']:>12.0f}{row['cpu_us_per_reading']:>16.1f}")  # fmt: skip
    print(f"serial input {ingest['mb_per_s']:.2f} MB/s; ingest / store rate = {ratio:.2f}")
    if ingest["frames"] < ingest["expected"]:
        print(
            f"WARNING: only {ingest['frames']:.0f} of {ingest['expected']:.0f} frames stored within the deadline"
        )
    summary = {
        "frames_per_s": round(ingest["frames_per_s"], 1),
        "readings_per_s": round(ingest["readings_per_s"], 1),
        "cpu_us_per_reading": round(ingest["cpu_us_per_reading"], 2),
        "ratio_vs_store": round(ratio, 3),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
