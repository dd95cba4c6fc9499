"""The whole path of a gateway's health: a real sync round reports the gateway's and its nodes' health on its
changes request, and the central keeps it with the roll-ups of the readings it received."""

from __future__ import annotations

import sqlalchemy as sa

import gateway
from gateway.frame import Frame
from sync.central.fleet.tables import health, hourly, nodes, series
from tests.sync.conftest import fill


def test_a_sync_round_reports_health_and_rolls_up_readings(store, central, make_client):
    fill(store, frames=30)
    store.writer().write([Frame("h", "node-1", 1, 99, {}, extra={"fw": "1.2.3", "up_s": 40, "mem_free": 51200,
                                                                 "rssi": -61})])  # fmt: skip
    store.add_event("test", {"i": 1})
    client = make_client()
    client.run_once()
    with central.state.engine.connect() as conn:
        kept = conn.execute(sa.select(health)).mappings().one()
        node = conn.execute(sa.select(nodes).where(nodes.c.node == "node-1")).mappings().one()
        counted = conn.execute(sa.select(sa.func.sum(hourly.c.n))).scalar_one()
        names = {r.name for r in conn.execute(sa.select(series.c.name).distinct())}
    assert kept["version"] == gateway.__version__
    assert kept["uptime_s"] > 0 and kept["disk_total_b"] > kept["disk_free_b"] > 0 and kept["store_b"] > 0
    assert kept["sync_s"] == 1 and kept["water_alert_cm"] == 150.0 and kept["dead"] == 0
    assert (node["fw"], node["mem_free"], node["rssi"]) == ("1.2.3", 51200, -61)
    assert node["last_seen_ms"] is not None and node["bad_frames"] == 0
    assert counted == 30 * 5  # every reading of every frame, once
    assert names == {"water_cm", "temp_c", "rh_pct", "rain_mm", "bat_v"}


def test_the_health_report_goes_when_it_changed_or_is_old(store, central, make_client):
    """A round whose report says nothing new but the time sends no health headers; a change sends them again,
    and so does the 5th round since the last report, or a report 15 intervals old (sync/client/report.py,
    docs/protocol.md)."""
    now = [1000.0]
    client = make_client(monotonic=lambda: now[0])
    assert (client.reporter.every_rounds, client.reporter.max_age_s) == (5, 15 * client.settings.interval_s)

    def reported() -> list[dict[str, object]]:
        with central.state.engine.connect() as conn:
            return [dict(row) for row in conn.execute(sa.select(health)).mappings()]

    def forget() -> None:
        with central.state.engine.begin() as conn:
            conn.execute(health.delete())

    client.run_once()
    assert len(reported()) == 1  # the first round of a process reports
    forget()
    client.run_once()
    assert reported() == []  # nothing new: no report
    client.settings.water_alert_cm = 120.0
    client.run_once()
    assert [row["water_alert_cm"] for row in reported()] == [120.0]  # a threshold changed
    forget()
    for _ in range(4):
        client.run_once()
    assert reported() == []  # four rounds since the last report
    client.run_once()
    assert len(reported()) == 1  # the fifth
    forget()
    now[0] += client.reporter.max_age_s
    client.run_once()
    assert len(reported()) == 1  # rounds are rare: the last report is 15 intervals old


def test_which_streams_wait_is_not_news_for_the_report() -> None:
    """Readings come and go from the backlog with each commit of the ingest: that a stream waits (its
    ``oldest_<stream>_s``) is told on every request by X-Anjungan-Backlog, and sent the health report with
    every other round (0.35 MB a day on the wire). A threshold or a node's boot is news."""
    from sync.client.report import steady

    base = {"version": "0.1.0", "uptime_s": 10, "clock": 1, "offset_ms": 0, "dead": 0, "water_alert_cm": 150}
    node = {"node": "n1", "fw": "1.0", "boot": 3, "every": 60, "bad": 0, "seen": 5}
    assert steady({**base, "oldest_readings_s": 40}, [node]) == steady(base, [node])
    assert steady({**base, "oldest_events_s": 3, "uptime_s": 99}, [node]) == steady(base, [node])
    assert steady({**base, "water_alert_cm": 120}, [node]) != steady(base, [node])
    assert steady(base, [{**node, "boot": 4}]) != steady(base, [node])
    assert steady(base, [{**node, "seen": 600}]) != steady(base, [node])  # late: silent for 10 intervals
