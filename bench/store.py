"""Benchmark of the store: durable ingest, read + ack, bytes per reading; and ThingsBoard's SQLite storage.

Run: .venv/bin/python bench/store.py [--frames N] [--batch B] [--producers P] [--no-thingsboard]

Producers submit frames of 5 readings (B frames per submit) from P threads and wait on the Futures: a
reading counts once its commit is done. The peer is ThingsBoard IoT Gateway 3.8.5's SQLiteEventStorage,
installed into bench/.venv-thingsboard on first use, fed the same readings as JSON telemetry (one message
per frame); its rate counts messages once they are in its SQLite file (its put() returns before that).
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.frame import Frame  # noqa: E402
from gateway.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-thingsboard"
PEER_PACKAGE = "thingsboard-gateway==3.8.5"
NAMES = ("water_cm", "temp_c", "rain_mm", "hum_pct", "bat_v")


def make_frames(count: int, nodes: int = 20) -> list[Frame]:
    frames = []
    for i in range(count):
        q = i // nodes
        values = [100.0 + (q % 50) * 0.5, 27.0 + (q % 7) * 0.1, (q % 3) * 0.2, 80.0 + q % 5, 3.7]
        frames.append(Frame("r", f"dmk-node-{i % nodes:02d}", 1, q, dict(zip(NAMES, values, strict=True))))
    return frames


def io_counters() -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["write_bytes"]), int(fields["wchar"])


def ingest(store: Store, frames: list[Frame], batch: int, producers: int) -> float:
    """Seconds to have every frame acknowledged (committed), P threads each keeping a window of submits."""
    writer = store.writer()
    shares = [frames[k::producers] for k in range(producers)]

    def produce(share: list[Frame]) -> None:
        window: collections.deque[Any] = collections.deque()
        for start in range(0, len(share), batch):
            window.append(writer.submit(share[start : start + batch]))
            if len(window) > 256:
                window.popleft().result(60)
        while window:
            window.popleft().result(60)

    threads = [threading.Thread(target=produce, args=(share,)) for share in shares]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def read_and_ack(store: Store) -> tuple[int, float]:
    start, count = time.perf_counter(), 0
    while True:
        records = store.outbox("readings", limit=1000)
        if not records:
            return count, time.perf_counter() - start
        count += len(records)
        store.mark_acked("readings", records[-1]["seq"])


def measure_ours(frames: list[Frame], batch: int, producers: int) -> dict[str, float]:
    readings = sum(len(f.values) for f in frames)
    with tempfile.TemporaryDirectory(prefix="anjungan-bench-") as tmp:
        path = Path(tmp) / "anjungan.db"
        with Store.open(path) as store:
            os.sync()
            io_before = io_counters()
            seconds = ingest(store, frames, batch, producers)
            os.sync()
            io_after = io_counters()
            stored = store.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
            assert stored == readings, (stored, readings)
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            disk = sum(p.stat().st_size for p in Path(tmp).iterdir() if not p.name.endswith("-shm"))
            read, read_s = read_and_ack(store)
            assert read == readings
        return {
            "readings_per_s": readings / seconds,
            "read_ack_per_s": read / read_s,
            "disk_bytes_per_reading": disk / readings,
            "write_bytes_per_reading": (io_after[0] - io_before[0]) / readings,
            "wchar_per_reading": (io_after[1] - io_before[1]) / readings,
        }


def peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with {PEER_PACKAGE} (once)", flush=True)
        venv.create(PEER_VENV, with_pip=True)
    probe = subprocess.run([python, "-c", "import thingsboard_gateway"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "--quiet", PEER_PACKAGE], check=True)
    return python


def measure_thingsboard(frames: list[Frame], producers: int, per_reading: bool = False) -> dict[str, float]:
    """The peer fed the same readings: one telemetry message per frame, or (per_reading) one per reading."""
    job = {
        "frames": [[f.node, f.boot, f.seq, f.values] for f in frames],
        "producers": producers,
        "per_reading": per_reading,
    }
    result = subprocess.run(
        [peer_python(), HERE / "thingsboard_peer.py"],
        input=json.dumps(job), capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=200_000, help="frames of 5 readings (default 200000)")
    parser.add_argument("--batch", type=int, default=50, help="frames per submit (default 50)")
    parser.add_argument("--producers", type=int, default=4, help="producer threads (default 4)")
    parser.add_argument("--no-thingsboard", action="store_true", help="skip the peer")
    args = parser.parse_args()

    frames = make_frames(args.frames)
    ours = measure_ours(frames, args.batch, args.producers)
    single = measure_ours(frames[: args.frames // 5], 1, args.producers)
    peer = None if args.no_thingsboard else measure_thingsboard(frames, args.producers)
    peer1 = (
        None if args.no_thingsboard else measure_thingsboard(frames[: args.frames // 5], args.producers, True)
    )

    rows = [
        ("durable ingest (acked after commit)", f"{ours['readings_per_s']:,.0f} readings/s",
         f"{peer['stored_per_s']:,.0f} readings/s saved, a message per frame" if peer else "-"),
        ("  same, one frame per submit", f"{single['readings_per_s']:,.0f} readings/s", "-"),
        ("  peer, a message per frame: put() (not saved)", "-", f"{peer['put_per_s']:,.0f} readings/s" if peer else "-"),
        ("  peer, one message per reading: saved", "-", f"{peer1['stored_per_s']:,.0f} readings/s" if peer1 else "-"),
        ("  peer, one message per reading: put()", "-", f"{peer1['put_per_s']:,.0f} readings/s" if peer1 else "-"),
        ("  peer, one message per reading: disk", "-",
         f"{peer1['disk_bytes_per_reading']:.1f} B/reading" if peer1 else "-"),
        ("read + ack (outbox 1000 + mark_acked)", f"{ours['read_ack_per_s']:,.0f} readings/s",
         f"{peer['read_ack_per_s']:,.0f} readings/s" if peer else "-"),
        ("bytes on disk per reading", f"{ours['disk_bytes_per_reading']:.1f}",
         f"{peer['disk_bytes_per_reading']:.1f}" if peer else "-"),
        ("bytes written per reading (write_bytes)", f"{ours['write_bytes_per_reading']:.1f}",
         f"{peer['write_bytes_per_reading']:.1f}" if peer else "-"),
        ("bytes written per reading (wchar)", f"{ours['wchar_per_reading']:.1f}",
         f"{peer['wchar_per_reading']:.1f}" if peer else "-"),
    ]  # fmt: skip
    print(f"{args.frames:,} frames x 5 readings, {args.producers} producers, {args.batch} frames per submit")
    print(f"{'':42} {'anjungan':>22}   ThingsBoard IoT Gateway 3.8.5")
    for name, mine, theirs in rows:
        print(f"{name:42} {mine:>22}   {theirs}")

    # The headline peer figure is what ThingsBoard acknowledges to its producers (put(), before any commit) when
    # each reading is one telemetry message, the set-up of its published per-reading figures; the same peer
    # fed one message per frame (5 readings) is reported beside it, acked-before-commit and saved.
    def ratio(peer_rate: float) -> float:
        return round(ours["readings_per_s"] / peer_rate, 2)

    summary = {
        **{k: round(v, 2) for k, v in ours.items()},
        "readings_per_s_one_frame_per_submit": round(single["readings_per_s"], 1),
        "thingsboard_per_s": round(peer1["put_per_s"], 1) if peer1 else None,
        "ratio_vs_thingsboard": ratio(peer1["put_per_s"]) if peer1 else None,
        "thingsboard_saved_per_s": round(peer1["stored_per_s"], 1) if peer1 else None,
        "ratio_vs_thingsboard_saved": ratio(peer1["stored_per_s"]) if peer1 else None,
        "thingsboard_disk_bytes_per_reading": round(peer1["disk_bytes_per_reading"], 1) if peer1 else None,
        "thingsboard_frame_msgs_put_per_s": round(peer["put_per_s"], 1) if peer else None,
        "ratio_vs_thingsboard_frame_msgs_put": ratio(peer["put_per_s"]) if peer else None,
        "thingsboard_frame_msgs_saved_per_s": round(peer["stored_per_s"], 1) if peer else None,
        "ratio_vs_thingsboard_frame_msgs_saved": ratio(peer["stored_per_s"]) if peer else None,
        "thingsboard_frame_msgs_disk_bytes_per_reading": round(peer["disk_bytes_per_reading"], 1)
        if peer
        else None,
        "thingsboard_read_ack_per_s": round(peer["read_ack_per_s"], 1) if peer else None,
        "thingsboard_write_bytes_per_reading": round(peer["write_bytes_per_reading"], 1) if peer else None,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
