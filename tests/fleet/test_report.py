"""The gateway's health and node reports on its changes requests (X-Anjungan-Health, X-Anjungan-Nodes), and
what the central keeps of them and of hello events; an older gateway that sends neither is still served."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from sync import protocol
from sync.central.fleet.tables import health, nodes
from tests.central.conftest import Clock, Gateway, central_of
from tests.fleet.conftest import event


def test_the_headers_round_trip_and_ignore_what_they_do_not_know() -> None:
    values = {"version": "0.1.0+dev", "uptime_s": 3600, "clock": 1, "offset_ms": -250, "dead": 2,
              "oldest_readings_s": 90, "water_alert_cm": 150.5, "store_b": 10, "budget_b": None}  # fmt: skip
    text = protocol.format_health(values)
    assert "budget_b" not in text
    assert protocol.parse_health(text) == {k: v for k, v in values.items() if v is not None}
    assert protocol.parse_health(text + ",future_key=7,uptime_s=x") == protocol.parse_health(text)
    assert protocol.parse_health(None) is None and protocol.parse_health("x" * 1001) is None
    node = {"node": "dmk-wl-01", "fw": "1.0.3", "boot": 12, "mem": 51234, "rssi": -67, "bat": 3.91, "bad": 2,
            "every": 60, "seen": 12, "up": None}  # fmt: skip
    text = protocol.format_nodes([node, {"node": "dmk-pw-01"}])
    assert protocol.parse_nodes(text) == [
        {k: v for k, v in node.items() if v is not None},
        {"node": "dmk-pw-01"},
    ]
    assert protocol.parse_nodes("BAD NODE,boot=1;dmk-x,boot=zz,bad=3") == [{"node": "dmk-x", "bad": 3}]
    assert (
        len(protocol.parse_nodes(protocol.format_nodes([{"node": f"n{i}"} for i in range(500)])) or []) == 100
    )


def test_the_central_keeps_the_reports(app: Flask, gateway: Gateway, clock: Clock) -> None:
    headers = {
        protocol.HEADER_HEALTH: "version=0.1.0,uptime_s=7200,clock=0,dead=3,oldest_readings_s=600,sync_s=30,"
        "disk_free_b=1000,disk_total_b=8000,store_b=5,budget_b=100",
        protocol.HEADER_NODES: "dmk-wl-01,boot=12,fw=1.0.3,mem=51234,rssi=-67,bat=3.91,bad=2,every=60,seen=30",
    }
    assert gateway.get("/api/v1/changes", headers=headers).status_code == 200
    engine = central_of(app).engine
    with engine.connect() as conn:
        kept = conn.execute(sa.select(health)).mappings().one()
        node = conn.execute(sa.select(nodes)).mappings().one()
    now_ms = int(clock() * 1000)
    assert kept["version"] == "0.1.0" and kept["clock_ok"] is False and kept["dead"] == 3
    assert kept["sync_s"] == 30 and kept["oldest"] == '{"readings": 600}'
    assert node["node"] == "dmk-wl-01" and node["last_seen_ms"] == now_ms - 30_000
    assert (node["boot"], node["fw"], node["mem_free"], node["rssi"], node["bad_frames"]) == (12, "1.0.3", 51234,
                                                                                              -67, 2)  # fmt: skip
    assert node["bat_v"] == 3.91 and node["interval_s"] == 60


def test_an_older_gateway_without_reports_is_served(app: Flask, gateway: Gateway) -> None:
    assert gateway.get("/api/v1/changes").status_code == 200
    with central_of(app).engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(health)).scalar_one() == 0


def test_hello_events_fill_a_nodes_health_and_an_older_one_changes_nothing(
    app: Flask, gateway: Gateway
) -> None:
    at = 1_795_449_600_000
    newer = event(2, at + 60_000, "hello", "dmk-wl-01", boot=7, fw="1.1.0", mem_free=40000, rssi=-70, up_s=5)
    older = event(1, at, "hello", "dmk-wl-01", boot=6, fw="1.0.0", mem_free=1, rssi=-99, up_s=3)
    assert gateway.send("events", [newer]).status_code == 200
    assert gateway.send("events", [older, newer]).status_code == 200  # late, and sent again
    with central_of(app).engine.connect() as conn:
        node = conn.execute(sa.select(nodes)).mappings().one()
    assert (node["boot"], node["fw"], node["mem_free"], node["rssi"], node["up_s"]) == (
        7,
        "1.1.0",
        40000,
        -70,
        5,
    )
    assert node["last_seen_ms"] == at + 60_000 + 0


def test_a_hello_arriving_after_the_nodes_report_of_a_later_reading_is_kept(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    # the gateway's nodes report (on GET /changes) names the node's newest frame, a reading after its hello;
    # the hello itself comes in the events batch that follows
    now = int(clock() * 1000)
    report = {protocol.HEADER_NODES: "dmk-wl-01,boot=1,seen=0,every=5"}
    assert gateway.get("/api/v1/changes", headers=report).status_code == 200
    hello = event(1, now - 20_000, "hello", "dmk-wl-01", boot=1, fw="sim-1.0", mem_free=41000, up_s=1)
    assert gateway.send("events", [hello]).status_code == 200
    with central_of(app).engine.connect() as conn:
        node = conn.execute(sa.select(nodes)).mappings().one()
    assert (node["fw"], node["mem_free"], node["up_s"]) == ("sim-1.0", 41000, 1)
    assert node["last_seen_ms"] >= now - 1_000  # the report's later frame still counts as the last seen


def test_out_of_range_report_values_are_left_out() -> None:
    health = protocol.parse_health(
        "sync_s=-5,uptime_s=999999999999999999,offset_ms=-999999999999999999,clock=7,oldest_events_s=-1,"
        "mains_min_v=-3,dead=2,sync_s=0"
    )
    assert health == {"dead": 2}
    assert protocol.parse_health("sync_s=86400,uptime_s=0") == {"sync_s": 86400, "uptime_s": 0}
    parsed = protocol.parse_nodes(
        "dmk-a,every=0,seen=999999999999999999,boot=-1,mem=999999999999999999,bat=-1,bad=4;"
        "dmk-b,every=-60,seen=-10,rssi=-999;dmk-c,every=86401;dmk-d,every=1,seen=0"
    )
    assert parsed == [{"node": "dmk-a", "bad": 4}, {"node": "dmk-b"}, {"node": "dmk-c"},
                      {"node": "dmk-d", "every": 1, "seen": 0}]  # fmt: skip


def test_the_central_never_fails_on_out_of_range_reports(app: Flask, gateway: Gateway, clock: Clock) -> None:
    headers = {
        protocol.HEADER_HEALTH: "version=0.1.0,sync_s=-5,uptime_s=999999999999999999,offset_ms=12",
        protocol.HEADER_NODES: "dmk-wl-01,every=0,seen=999999999999999999,bad=1;dmk-wl-02,every=-60,seen=-10",
    }
    assert gateway.get("/api/v1/changes", headers=headers).status_code == 200
    at = 1_795_449_600_000
    hello = event(1, at, "hello", "dmk-wl-03", boot=2**64, fw="1.0.0", mem_free=2**70, rssi=-(2**63),
                  bat_v=1e300, up_s=-1)  # fmt: skip
    sane = event(2, at, "hello", "dmk-wl-04", boot=3, mem_free=40000, rssi=-60, bat_v=3.9, up_s=5)
    assert gateway.send("events", [hello, sane]).status_code == 200
    with central_of(app).engine.connect() as conn:
        kept = conn.execute(sa.select(health)).mappings().one()
        by_node = {r["node"]: r for r in conn.execute(sa.select(nodes)).mappings()}
    assert (kept["sync_s"], kept["uptime_s"], kept["offset_ms"]) == (None, None, 12)
    assert (by_node["dmk-wl-01"]["interval_s"], by_node["dmk-wl-01"]["last_seen_ms"]) == (None, None)
    assert by_node["dmk-wl-01"]["bad_frames"] == 1
    assert (by_node["dmk-wl-02"]["interval_s"], by_node["dmk-wl-02"]["last_seen_ms"]) == (None, None)
    bad = by_node["dmk-wl-03"]
    assert (bad["boot"], bad["mem_free"], bad["rssi"], bad["bat_v"], bad["up_s"]) == (None,) * 5
    assert (bad["fw"], bad["last_seen_ms"]) == ("1.0.0", at)
    good = by_node["dmk-wl-04"]
    got = (good["boot"], good["mem_free"], good["rssi"], good["bat_v"], good["up_s"])
    assert got == (3, 40000, -60, 3.9, 5)
