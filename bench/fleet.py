"""The completeness page with a year of readings of 100 kiosks x 10 nodes at one reading a minute (525 M
readings), and the fleet page over the same kiosks and nodes, on PostgreSQL.

Inserting 525 M readings through the batch path would take days on this machine, so the year is synthesised
straight into the roll-up tables (hourly and daily, as :mod:`sync.central.fleet.rollup` keeps them, and the
series table), in SQL; one real day of one kiosk (14,400 readings) goes through the central's own batch path
too, so that the roll-ups kept at insert time are timed (``insert_readings_per_s``). Then the completeness
page is requested as a logged-in teknisi through the Flask app (day, week and month; per node, kiosk and
producer; several dates) and p50/p99 are reported. Every kiosk and node gets a place and the alerts are
evaluated once, so that the fleet page (``/armada``: pages, state filters, sorts, a search, and kiosks' own
pages, with the map) is timed the same way. Starts its own PostgreSQL server unless --db is given. Prints a
table, then as the last line one JSON object with ``completeness_p99_ms``, ``fleet_p99_ms`` and ``readings``
(the readings the roll-ups stand for). Target: p99 <= 500 ms for both pages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from sync import protocol  # noqa: E402
from sync.central import service  # noqa: E402
from sync.central.app import create_app  # noqa: E402
from sync.central.backoffice import accounts  # noqa: E402
from sync.central.fleet import alerts, completeness, overview, rollup  # noqa: E402
from sync.central.fleet.settings import FleetSettings  # noqa: E402
from tests.central.officers import PASSWORD, login  # noqa: E402
from tests.fixtures.postgres import running_postgres  # noqa: E402

TARGET_MS = 500
HOUR, DAY = rollup.HOUR_MS, rollup.DAY_MS
OPDS = ("bpbd", "dinkes", "dpupr", "dlh", "kominfo")

# per node (j = 0..9): readings per hour, so that every zone has members: most full, one yellow, one red, and
# one that misses one day in seven
SYNTH_HOURLY = f"""
INSERT INTO fleet_hourly (gateway_id, node, name, hour_ms, n, total, low, high)
SELECT g.id, 'node-' || g.k || '-' || j, 'water_cm', h,
       CASE WHEN j = 7 THEN 45 WHEN j = 8 THEN 20 WHEN j = 9 AND (h / {DAY}) % 7 = g.k % 7 THEN 0 ELSE 60 END,
       6000.0, 90.0, 110.0
FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM gateways) g,
     generate_series(0, 9) AS j, generate_series(:start, :end - {HOUR}, {HOUR}) AS h
"""
SYNTH_DAILY = f"""
INSERT INTO fleet_daily (gateway_id, node, name, day_ms, n, total, low, high)
SELECT gateway_id, node, name, ((hour_ms + :offset) / {DAY}) * {DAY} - :offset, sum(n), sum(total), min(low), max(high)
FROM fleet_hourly WHERE n > 0 GROUP BY 1, 2, 3, 4
"""
SYNTH_SERIES = """
INSERT INTO fleet_series (gateway_id, node, name, first_ms, last_ms, last_value)
SELECT gateway_id, node, name, min(hour_ms), max(hour_ms) + 3540000, 100.0 FROM fleet_hourly GROUP BY 1, 2, 3
"""
SYNTH_NODES = """
INSERT INTO fleet_nodes (gateway_id, node, interval_s, producer, reported_ms)
SELECT gateway_id, node, 60, (ARRAY['bpbd','dinkes','dpupr','dlh','kominfo'])[1 + abs(hashtext(node)) % 5], :now
FROM fleet_series
"""

# every kiosk and node placed around Demak (about 0.5 degrees square), so that the map draws them all
SYNTH_PLACES = """
INSERT INTO fleet_places (gateway_id, node, label, lat, lon)
SELECT id, '', 'Balai desa ' || id, -6.7 - (abs(hashtext(id)) % 500) / 1000.0, 110.4 + (abs(hashtext(id || 'x')) % 500) / 1000.0
FROM gateways
UNION ALL
SELECT gateway_id, node, 'Pos ' || node, -6.7 - (abs(hashtext(node)) % 500) / 1000.0, 110.4 + (abs(hashtext(node || 'x')) % 500) / 1000.0
FROM fleet_nodes
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def synthesise(engine: sa.Engine, days: int, end_ms: int) -> int:
    """``days`` of roll-ups for every registered kiosk x 10 nodes; answers the readings they stand for."""
    start = end_ms - days * DAY
    params = {"start": start, "end": end_ms, "offset": 7 * HOUR, "now": end_ms}
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        for statement in (SYNTH_HOURLY, SYNTH_DAILY, SYNTH_SERIES, SYNTH_NODES, SYNTH_PLACES):
            conn.execute(sa.text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SET statement_timeout = 0"))
        conn.execute(sa.text("VACUUM ANALYZE"))
        return int(conn.execute(sa.text("SELECT sum(n) FROM fleet_hourly")).scalar_one())


def real_day(engine: sa.Engine, gateway_id: str, end_ms: int) -> float:
    """One day of one kiosk's 10 nodes at 1/min through the batch path (20 batches); readings per second."""
    start = end_ms - DAY
    records = [
        {"seq": 0, "node": f"real-{j}", "boot": 1, "q": m, "name": "water_cm", "value": 100.0 + m % 30,
         "at": start + m * 60_000, "offset": 0}
        for m in range(1440) for j in range(10)
    ]  # fmt: skip
    records.sort(key=lambda r: r["at"])
    for seq, record in enumerate(records, start=1):
        record["seq"] = seq
    started = time.perf_counter()
    for first in range(0, len(records), 720):
        body, headers = protocol.encode_batch("readings", records[first : first + 720])
        service.store_batch(engine, gateway_id, protocol.decode_batch(body, headers), end_ms)
    return len(records) / (time.perf_counter() - started)


def timed(client: object, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)  # type: ignore[attr-defined]
        out.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: start one)")
    parser.add_argument("--kiosks", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(14)
    with contextlib.ExitStack() as stack:
        db_url = args.db or stack.enter_context(running_postgres())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        app = create_app(db_url, files_dir=work / "files", key_file=work / "central.key")
        state = app.extensions["anjungan.central"]
        stack.callback(state.engine.dispose)
        end_ms = (int(time.time() * 1000) // DAY) * DAY + 5 * HOUR  # now: 12:00 WIB
        state.clock = lambda: end_ms / 1000
        ids = [service.add_gateway(state.engine, state.master_key, f"kiosk-{i:03d}")["gateway_id"]
               for i in range(args.kiosks)]  # fmt: skip
        started = time.perf_counter()
        readings = synthesise(state.engine, args.days, end_ms)
        synth_s = time.perf_counter() - started
        insert_rate = real_day(state.engine, ids[0], end_ms)
        accounts.add_user(state.engine, "bench-tek", "teknisi", opd=None, password=PASSWORD, now_ms=0)
        app.config["BACKOFFICE_IDLE_SECONDS"] = 24 * 3600
        client = app.test_client()
        assert login(client, "bench-tek").status_code == 302
        today = completeness.local_date(end_ms)
        paths = [
            f"/kelengkapan?periode={rng.choice(completeness.PERIODS)}&kelompok={rng.choice(completeness.GROUPS)}"
            f"&tanggal={(today - timedelta(days=rng.randrange(args.days))).isoformat()}"
            for _ in range(args.requests)
        ]
        timed(client, paths[:10])  # warm-up
        times = timed(client, paths)
        alerts.run(state.engine, end_ms, FleetSettings())
        pages = -(-args.kiosks // overview.PER_PAGE)
        fleet_paths = [rng.choice([
            f"/armada?page={rng.randrange(1, pages + 1)}",
            f"/armada?state={rng.choice(overview.STATES)}&sort={rng.choice(overview.SORTS)}",
            f"/armada?q=kiosk-{rng.randrange(args.kiosks) // 10:02d}&sort=contact",
            f"/armada/anjungan/{rng.choice(ids)}",
        ]) for _ in range(args.requests)]  # fmt: skip
        timed(client, fleet_paths[:10])  # warm-up
        fleet_times = timed(client, fleet_paths)
    kinds: dict[str, list[float]] = {}
    for path, ms in zip(paths, times, strict=True):
        query = dict(part.split("=") for part in path.split("?")[1].split("&"))
        kinds.setdefault(f"{query['periode']}/{query['kelompok']}", []).append(ms)
    for path, ms in zip(fleet_paths, fleet_times, strict=True):
        name = "kiosk" if path.startswith("/armada/anjungan/") else path.split("?")[1].split("=")[0]
        kinds.setdefault(f"armada/{name}", []).append(ms)
    figures = {
        "readings": readings + 14_400,
        "synthesised": True,
        "kiosks": args.kiosks,
        "nodes": args.kiosks * 10,
        "days": args.days,
        "synthesise_s": round(synth_s, 1),
        "insert_readings_per_s": round(insert_rate),
        "completeness_p50_ms": round(statistics.median(times), 1),
        "completeness_p99_ms": round(percentile(times, 99), 1),
        "fleet_p50_ms": round(statistics.median(fleet_times), 1),
        "fleet_p99_ms": round(percentile(fleet_times, 99), 1),
        "target_p99_ms": TARGET_MS,
    }
    print(f"{'page':<18}{'n':>5}{'p50 ms':>9}{'max ms':>9}")
    for name, values in sorted(kinds.items()):
        print(f"{name:<18}{len(values):>5}{statistics.median(values):>9.1f}{max(values):>9.1f}")
    print(f"{'measure':<22}{'value':>12}")
    for name, value in figures.items():
        print(f"{name:<22}{value!s:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
