"""Probe (not a test): which pages of the store one commit of the reading writer writes.

A store is filled with ``--days`` of a village's readings (10 nodes, a frame a minute each, as bench/field.py
sends them), checkpointed, and then ``--commits`` groups of one frame per node (a minute's frames, as with
``[gateway] commit_interval_s = 60``) are committed one by one. The WAL's frames are read back and each page
number named by ``dbstat`` (the table or index that owns it). Prints the pages per commit by owner, then as its
last line one JSON object.

    .venv/bin/python bench/pages.py [--days 2] [--commits 30]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import struct
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.frame import Frame  # noqa: E402
from gateway.store import Store  # noqa: E402

NODES = [f"{kind}-{i:02d}" for kind, count in (("wl", 4), ("wx", 3), ("pw", 3)) for i in range(count)]
NAMES = {
    "wl": ("water_cm", "distance_cm", "temp_c", "rh_pct"),
    "wx": ("temp_c", "rh_pct", "pressure_hpa", "rain_mm"),
    "pw": ("mains_v", "current_a", "power_w", "energy_wh", "freq_hz", "power_factor", "mains_ok"),
}
MINUTE_MS = 60_000
START_MS = 1_780_000_000_000


def minute(q: int) -> list[Frame]:
    """One frame per node, the ``q``-th of its boot."""
    return [
        Frame("r", node, 1, q, {name: float(q % 97 + i) for i, name in enumerate(NAMES[node[:2]])})
        for node in NODES
    ]


def wal_pages(wal: Path) -> list[list[int]]:
    """The page numbers of each commit in the WAL file ``wal`` (frames of a commit, in order)."""
    data = wal.read_bytes()
    if len(data) < 32:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    commits: list[list[int]] = [[]]
    for start in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        pgno, size = struct.unpack(">II", data[start : start + 8])
        commits[-1].append(pgno)
        if size:
            commits.append([])
    return [c for c in commits if c]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--commits", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        store = Store.open(path)
        writer = store.writer()
        warm = int(args.days * 1440)
        for day_start in range(0, warm, 1440):  # a day per commit: fills the tables quickly
            frames = [f for q in range(day_start, min(warm, day_start + 1440)) for f in minute(q)]
            writer.write(frames, at=START_MS + day_start * MINUTE_MS, timeout=300)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for q in range(warm, warm + args.commits):
            writer.write(minute(q), at=START_MS + q * MINUTE_MS)
        owners = dict(conn.execute("SELECT pageno, name FROM dbstat"))
        commits = wal_pages(Path(str(path) + "-wal"))
        by_owner: Counter[str] = Counter()
        for pages in commits:
            for pgno in set(pages):
                by_owner[owners.get(pgno, "(free or new)")] += 1
        conn.close()
        store.close()
    n = max(1, len(commits))
    for owner, count in by_owner.most_common():
        print(f"{owner:32s} {count / n:6.2f} pages a commit")
    print(f"{'all':32s} {sum(by_owner.values()) / n:6.2f} pages a commit ({n} commits)")
    print(json.dumps({"commits": n, "pages_per_commit": {k: round(v / n, 2) for k, v in by_owner.items()}}))


if __name__ == "__main__":
    main()
