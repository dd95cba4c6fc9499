"""Alerts: each rule opens an alert when its condition holds at the evaluation's moment (an injected clock),
an officer acknowledges it, and it is resolved when the condition ends; resolved alerts are the history."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from sync import protocol
from sync.central.fleet import alerts, texts
from sync.central.fleet.settings import FleetSettings
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import logged_in
from tests.fleet.conftest import event, reading

CFG = FleetSettings()
S = 1000


def contact(gateway: Gateway, clock: Clock, at_s: float, health: str = "sync_s=60,clock=1,dead=0",
            nodes: str | None = None) -> None:  # fmt: skip
    """A changes request at ``at_s`` with a health report (and nodes)."""
    clock.now = at_s
    headers = {protocol.HEADER_HEALTH: health, **({protocol.HEADER_NODES: nodes} if nodes else {})}
    assert gateway.get("/api/v1/changes", headers=headers).status_code == 200


def run(app: Flask, at_s: float, cfg: FleetSettings = CFG) -> alerts.RunReport:
    return alerts.run(central_of(app).engine, int(at_s * S), cfg)


def open_kinds(app: Flask) -> dict[str, dict]:
    with central_of(app).engine.connect() as conn:
        return {a["key"]: a for a in alerts.listing(conn)}


def test_a_silent_kiosk_opens_is_acknowledged_and_resolves(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    t0 = clock.now
    contact(gateway, clock, t0)
    assert run(app, t0 + 170).opened == []  # within three sync intervals
    report = run(app, t0 + 181)
    key = f"kiosk-silent:{gateway.id}"
    alert = open_kinds(app)[key]
    assert report.opened == [alert["id"]] and alert["state"] == "open" and alert["started_ms"] == t0 * S
    assert run(app, t0 + 240).opened == []  # still silent: the same alert, not a second one
    engine = central_of(app).engine
    with engine.begin() as conn:
        alerts.acknowledge(conn, alert["id"], "tek-budi", int((t0 + 250) * S))
    assert open_kinds(app)[key]["acked_by"] == "tek-budi"
    contact(gateway, clock, t0 + 300)
    assert run(app, t0 + 301).resolved == [alert["id"]]
    with engine.connect() as conn:
        (done,) = alerts.listing(conn, "resolved")
        assert alerts.counts(conn) == {"open": 0, "acknowledged": 0, "resolved": 1}
    assert (done["acked_by"], done["acked_ms"], done["resolved_ms"]) == (
        "tek-budi",
        (t0 + 250) * S,
        (t0 + 301) * S,
    )


def test_power_lost_at_a_power_node_with_start_end_and_kiosks(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    t0 = clock.now
    at = int(t0 * S)
    volts = [221.0, 220.5, 0.0, 0.0, 0.0]
    records = [
        reading(i + 1, at + i * 60 * S, node="dmk-pw-01", name="mains_v", value=v)
        for i, v in enumerate(volts)
    ]
    assert gateway.send("readings", records).status_code == 200
    contact(gateway, clock, t0 + 240, "sync_s=60,mains_min_v=150", "dmk-pw-01,every=60,seen=0")
    run(app, t0 + 241)
    power = open_kinds(app)[f"power:{gateway.id}/dmk-pw-01"]
    assert power["started_ms"] == at + 120 * S  # the first 0 V reading
    assert power["detail"] == {
        "cause": "no-mains",
        "kiosks": [gateway.id],
        "mains_min_v": 150.0,
        "mains_v": 0.0,
        "peak": {"mains_v": 0.0},  # the lowest of the episode
    }
    back = reading(6, at + 300 * S, node="dmk-pw-01", name="mains_v", value=219.0)
    assert gateway.send("readings", [back]).status_code == 200
    contact(gateway, clock, t0 + 301, "sync_s=60,mains_min_v=150", "dmk-pw-01,every=60,seen=0")
    assert run(app, t0 + 302).resolved == [power["id"]]
    with central_of(app).engine.connect() as conn:
        (done,) = alerts.listing(conn, "resolved")
    assert done["detail"]["resolved"] == {"mains_v": 219.0} and done["detail"]["peak"] == {"mains_v": 0.0}
    shown = dict(texts.detail_items(done["detail"], "id"))
    assert (
        shown["Tegangan listrik (V), saat selesai"] == "219"
        and shown["Tegangan listrik (V), terendah"] == "0"
    )
    assert "Tegangan listrik (V)" not in shown  # not the 0 V of the last evaluation while it held


def test_a_power_node_that_does_not_answer_is_an_outage(app: Flask, gateway: Gateway, clock: Clock) -> None:
    t0 = clock.now
    assert (
        gateway.send(
            "readings", [reading(1, int(t0 * S), node="dmk-pw-01", name="mains_v", value=221.0)]
        ).status_code
        == 200
    )
    contact(gateway, clock, t0 + 600, "sync_s=60", "dmk-pw-01,every=60,seen=600")
    run(app, t0 + 601)
    found = open_kinds(app)
    assert found[f"power:{gateway.id}/dmk-pw-01"]["detail"]["cause"] == "no-answer"
    assert f"node-silent:{gateway.id}/dmk-pw-01" in found  # the node itself is silent too


def test_the_other_rules(app: Flask, gateway: Gateway, clock: Clock) -> None:
    t0 = clock.now
    at = int(t0 * S)
    records = [reading(1, at, node="dmk-wl-01", name="water_cm", value=162.0)]
    records += [
        reading(2 + i, at - i * 300 * S, node="dmk-wx-01", name="rain_mm", value=6.0) for i in range(10)
    ]
    assert gateway.send("readings", records).status_code == 200
    reboots = [
        event(i + 1, at - i * 600 * S, "reboot", "dmk-wx-01", **{"from": i, "to": i + 1}) for i in range(5)
    ]
    assert gateway.send("events", reboots).status_code == 200
    contact(
        gateway,
        clock,
        t0 + 10,
        "sync_s=60,clock=0,dead=4,store_b=95,budget_b=100,water_alert_cm=150",
        "dmk-wl-01,every=60,seen=0;dmk-wx-01,every=60,seen=0;dmk-aq-01,every=30,seen=200",
    )
    run(app, t0 + 11)
    gw = gateway.id
    assert set(open_kinds(app)) == {
        f"water:{gw}/dmk-wl-01", f"rain:{gw}/dmk-wx-01", f"node-reboots:{gw}/dmk-wx-01", f"clock:{gw}",
        f"dead-letters:{gw}", f"store-full:{gw}", f"node-silent:{gw}/dmk-aq-01",
    }  # fmt: skip
    found = open_kinds(app)
    rain = found[f"rain:{gw}/dmk-wx-01"]
    assert rain["detail"]["rain_mm"] == 60.0
    assert rain["started_ms"] == at - 9 * 300 * S  # its first reading of rain, not the start of an hour
    since = rain["detail"]["since_ms"]
    assert since % 3_600_000 == 0 and (t0 + 11) * S - 2 * 3_600_000 < since <= at - 9 * 300 * S
    shown = dict(texts.detail_items(rain["detail"], "id"))
    assert shown["Curah hujan terkumpul (mm)"] == "60" and shown["Dihitung sejak"] == texts.local_time(since)
    assert "Rain collected (mm)" in dict(texts.detail_items(rain["detail"], "en"))
    assert found[f"node-reboots:{gw}/dmk-wx-01"]["detail"] == {"reboots_24h": 5, "peak": {"reboots_24h": 5}}
    contact(
        gateway,
        clock,
        t0 + 20,
        "sync_s=60,clock=1,dead=0,store_b=10,budget_b=100,water_alert_cm=170",
        "dmk-aq-01,every=30,seen=1",
    )
    report = run(app, t0 + 21)
    assert len(report.resolved) == 5  # rain and reboots still hold
    assert set(open_kinds(app)) == {f"rain:{gw}/dmk-wx-01", f"node-reboots:{gw}/dmk-wx-01"}


def test_a_resolved_alert_keeps_the_peak_of_its_episode(app: Flask, gateway: Gateway, clock: Clock) -> None:
    t0, gw = clock.now, gateway.id
    health, nodes = "sync_s=60,clock=1,dead=0,water_alert_cm=150", "dmk-wl-01,every=60,seen=0"
    for i, level in enumerate((162.0, 178.5, 155.0, 120.0)):  # rises, peaks, recedes, is below the threshold
        at = t0 + 60 * i
        assert gateway.send("readings", [reading(i + 1, int(at * S), value=level)]).status_code == 200
        contact(gateway, clock, at + 1, health, nodes)
        run(app, at + 2)
    with central_of(app).engine.connect() as conn:
        (resolved,) = alerts.listing(conn, "resolved")
    assert resolved["key"] == f"water:{gw}/dmk-wl-01"
    assert resolved["detail"]["water_cm"] == 155.0 and resolved["detail"]["peak"] == {"water_cm": 178.5}
    tek = logged_in(app, "tek-rina", "teknisi")
    history = tek.get("/peringatan").get_data(as_text=True)
    assert "Tinggi muka air (cm), tertinggi: 178,5" in history
    assert tek.get("/bahasa/en?next=/peringatan").status_code == 302
    assert "Water level (cm), highest: 178.5" in tek.get("/peringatan").get_data(as_text=True)


def test_two_evaluations_at_once_open_one_alert(app: Flask, gateway: Gateway, clock: Clock) -> None:
    contact(gateway, clock, clock.now)
    first, second = run(app, clock.now + 500), run(app, clock.now + 500)
    assert len(first.opened) == 1 and second.opened == []
    with central_of(app).engine.connect() as conn:
        from sync.central.fleet.tables import alerts as table

        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 1
