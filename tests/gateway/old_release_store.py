"""Run by tests/gateway/test_upgrade.py with the PREVIOUS release's code first on sys.path (from git archive):
fills a store through that release's own API, a row in every table, and prints the table counts as JSON.

Usage: python old_release_store.py OLD_CODE_DIR STORE_PATH
"""

import json
import sys
from datetime import date

sys.path.insert(0, sys.argv[1])

from gateway.frame import parse_line, reading_line  # noqa: E402  (the old release's modules)
from gateway.store import Store, files  # noqa: E402

store = Store.open(sys.argv[2])
writer = store.writer()
frames = [
    parse_line(reading_line("dmk-wl-01", 1, q, {"water_cm": 120.0 + q, "temp_c": 27.5})) for q in range(5)
]
hello = parse_line(reading_line("dmk-wl-01", 1, 5, {}, k="h", fw="0.3", up_s=60, mem_free=90000))
writer.write([*frames, hello])
writer.console("/dev/ttyACM0", b"MicroPython v1.23 boot noise", node="dmk-wl-01").result(30)
store.add_event("node_online", {"why": "first frame"}, node="dmk-wl-01")
record = store.add_submission(
    "request",
    {"subject": "Anggaran desa 2025"},
    {"name": "Siti", "nik": "3201010101010001"},
    gateway_id="dmk-uji",
    due_date=date(2026, 1, 20),
    day=date(2026, 1, 5),
)
store.add_submission(
    "complaint",
    {"subject": "Jalan rusak"},
    {"name": "Budi"},
    gateway_id="dmk-uji",
    due_date=None,
    day=date(2026, 1, 5),
)
store.mark_acked("events", 1)
store.record_sync_error("readings", "central unreachable")
store.dead_letter("readings", [{"seq": 3, "name": "water_cm"}], "refused: test")
store.apply_changes(
    [
        {"kind": "dip", "id": "dip-1", "op": "upsert", "data": {"title": "Daftar Informasi Publik"}},
        {"kind": "submission", "id": record["number"], "op": "upsert", "data": {"status": "diproses"}},
    ],
    "cursor-7",
)
files.mark_fetched(store, "ab" * 32, 1234)
store.set_meta("clock_offset_ms", "1500")
store.close()

conn = Store.open(sys.argv[2]).conn
tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
print(json.dumps({t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}))
