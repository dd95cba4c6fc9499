"""Roll-ups kept as batches arrive (in any order, sent twice) and completeness computed from them: per node and
measurement, per kiosk and per producer, per day, week and month, with the zones green/yellow/red."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from sync.central.backoffice import accounts
from sync.central.backoffice.audit import SYSTEM
from sync.central.fleet import completeness, places, rollup
from sync.central.fleet.tables import daily, hourly, marks, nodes, series
from tests.central.conftest import Gateway, central_of
from tests.central.officers import logged_in
from tests.fleet.conftest import reading

DAY = date(2026, 11, 23)
MIN = 60_000


def day_readings() -> list[dict]:
    """One local day at 1/min: node full (1440 readings), node most (1000 of 1440), node few (300)."""
    start = completeness.day_start_ms(DAY)
    out = []
    for node, count in (("full", 1440), ("most", 1000), ("few", 300)):
        out += [reading(0, start + i * MIN, node=node, value=float(i % 97)) for i in range(count)]
    for seq, record in enumerate(out, start=1):
        record["seq"] = record["q"] = seq
    return out


def send_shuffled(gateway: Gateway, records: list[dict], size: int = 400) -> None:
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    order = batches + batches[:3]  # three batches sent twice
    random.Random(14).shuffle(order)
    for batch in order:
        assert gateway.send("readings", batch).status_code == 200


def test_rollups_count_every_reading_once_whatever_the_order(app: Flask, gateway: Gateway) -> None:
    records = day_readings()
    send_shuffled(gateway, records)
    with central_of(app).engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(hourly.c.n))).scalar_one() == len(records)
        assert conn.execute(sa.select(sa.func.sum(daily.c.n))).scalar_one() == len(records)
        assert conn.execute(sa.select(marks.c.seq)).scalar_one() == len(records)
        # the whole local day is one daily row per node
        assert conn.execute(sa.select(sa.func.count()).select_from(daily)).scalar_one() == 3
        full = conn.execute(sa.select(series).where(series.c.node == "full")).mappings().one()
        hour0 = (
            conn.execute(sa.select(hourly).where(hourly.c.node == "full").order_by(hourly.c.hour_ms).limit(1))
            .mappings()
            .one()
        )
    start = completeness.day_start_ms(DAY)
    assert (full["first_ms"], full["last_ms"], full["last_value"]) == (start, start + 1439 * MIN, 1439 % 97)
    assert (hour0["n"], hour0["low"], hour0["high"], hour0["total"]) == (60, 0.0, 59.0, sum(range(60)))


def test_completeness_per_node_kiosk_and_producer(app: Flask, gateway: Gateway) -> None:
    send_shuffled(gateway, day_readings())
    engine = central_of(app).engine
    accounts.save_opd(engine, "bpbd", "BPBD Kabupaten Demak")
    accounts.save_opd(engine, "dinkes", "Dinas Kesehatan")
    places.set_node(engine, gateway.id, "full", SYSTEM, 0, producer="bpbd")
    places.set_node(engine, gateway.id, "most", SYSTEM, 0, producer="bpbd")
    places.set_node(engine, gateway.id, "few", SYSTEM, 0, producer="dinkes")
    now = completeness.day_start_ms(DAY + timedelta(days=1)) + 3_600_000
    win = completeness.window("day", DAY)
    with engine.connect() as conn:
        by_node = {r["node"]: r for r in completeness.report(conn, win, now)}
        by_kiosk = completeness.report(conn, win, now, "kiosk")
        by_producer = {r["producer"]: r for r in completeness.report(conn, win, now, "producer")}
        week = {r["node"]: r for r in completeness.report(conn, completeness.window("week", DAY), now)}
        trend = completeness.trend(conn, [DAY - timedelta(days=1), DAY], now)
    assert {n: (r["expected"], r["received"], r["pct"], r["zone"]) for n, r in by_node.items()} == {
        "full": (1440.0, 1440, 100.0, "green"),
        "most": (1440.0, 1000, 69.4, "yellow"),
        "few": (1440.0, 300, 20.8, "red"),
    }
    assert by_kiosk == [{"gateway": gateway.id, "series": 3, "expected": 4320.0, "received": 2740, "counted": 2740.0,
                         "extra": 0.0, "pct": 63.4, "zone": "yellow"}]  # fmt: skip
    assert (by_producer["bpbd"]["pct"], by_producer["dinkes"]["zone"]) == (84.7, "red")
    # the week: counted from the hour of each node's first reading until now (the day after, one hour in)
    assert week["full"]["expected"] == 1440.0 + 60 and week["full"]["pct"] == 96.0
    assert trend == [
        {
            "day": (DAY - timedelta(days=1)).isoformat(),
            "expected": 0.0,
            "received": 0.0,
            "pct": None,
            "zone": "none",
        },
        {"day": DAY.isoformat(), "expected": 4320.0, "received": 2740.0, "pct": 63.4, "zone": "yellow"},
    ]


def test_an_interval_set_at_the_central_wins_and_caps_received(app: Flask, gateway: Gateway) -> None:
    send_shuffled(gateway, day_readings())
    engine = central_of(app).engine
    places.set_node(engine, gateway.id, "few", SYSTEM, 0, interval_s=300)  # one in five minutes: 288 a day
    now = completeness.day_start_ms(DAY + timedelta(days=1))
    with engine.connect() as conn:
        few = next(
            r for r in completeness.report(conn, completeness.window("day", DAY), now) if r["node"] == "few"
        )
    assert (few["expected"], few["received"], few["pct"], few["zone"]) == (288.0, 300, 100.0, "green")
    assert (few["counted"], few["extra"]) == (288.0, 12.0)  # never shown above expected; the rest named apart
    tek = logged_in(app, "tek-sari", "teknisi")
    page = tek.get(f"/kelengkapan?periode=day&kelompok=node&tanggal={DAY.isoformat()}").get_data(as_text=True)
    row = re.search(
        r'<td>few</td>.*?<td>([^<]*)</td><td class="received">([^<]*) <small[^>]*>\(\+([^ ]+) lebih, '
        r'tidak dihitung\)</small></td>\s*<td><span class="zone zone-green">100,0 %</span>',
        page,
        re.S,
    )
    assert row and row.group(1) == row.group(2) and row.group(3) != "0", (
        page
    )  # received shown = expected, extra apart
    assert "Kelengkapan = Diterima ÷ Diharapkan, dari angka yang tertera" in page


def test_the_percentage_is_the_division_of_the_figures_shown() -> None:
    """Expected and received are shown to one decimal and the percentage is computed from them as shown, so a
    reader's own division gives it (25.17 expected, 18 received: 25,2 and 18, so 71,4 %, not 71,5 %)."""
    figures = completeness._figures(25.17, 18.0, 18.0)
    assert (figures["counted"], figures["extra"], figures["pct"]) == (18.0, 0.0, round(100 * 18 / 25.2, 1))
    assert figures["pct"] == 71.4
    over = completeness._figures(
        25.17, 25.17, 27.0
    )  # more frames than the interval gives: capped, the rest apart
    assert (over["counted"], over["extra"], over["pct"]) == (25.2, 1.8, 100.0)


def test_a_stored_zero_or_negative_interval_falls_back_to_the_default(app: Flask, gateway: Gateway) -> None:
    send_shuffled(gateway, day_readings())
    engine = central_of(app).engine
    accounts.save_opd(engine, "bpbd", "BPBD Kabupaten Demak")
    for node in ("full", "few"):
        places.set_node(engine, gateway.id, node, SYSTEM, 0, producer="bpbd")
    with engine.begin() as conn:  # as an older central may have kept from a gateway's report
        conn.execute(sa.update(nodes).where(nodes.c.node == "full").values(interval_s=0, interval_set_s=0))
        conn.execute(sa.update(nodes).where(nodes.c.node == "few").values(interval_s=-60))
    now = completeness.day_start_ms(DAY + timedelta(days=1))
    with engine.connect() as conn:
        by_node = {r["node"]: r for r in completeness.report(conn, completeness.window("day", DAY), now)}
        trend = completeness.trend(conn, [DAY], now)
    assert (by_node["full"]["expected"], by_node["full"]["zone"]) == (1440.0, "green")
    assert (by_node["few"]["expected"], by_node["few"]["zone"]) == (1440.0, "red")
    assert trend[0]["expected"] == 4320.0


def test_zones_and_windows() -> None:
    assert [completeness.zone(p) for p in (100, 90, 89.9, 50, 49.9, 0, None)] == [
        "green", "green", "yellow", "yellow", "red", "red", "none"]  # fmt: skip
    month = completeness.window("month", date(2026, 12, 31))
    assert month.label == "2026-12" and month.end_ms - month.start_ms == 31 * rollup.DAY_MS
    for far in (date(9999, 12, 31), date(1, 1, 1)):
        with pytest.raises(ValueError):
            completeness.window("month", far)
    week = completeness.window("week", date(2026, 11, 26))  # a Thursday
    assert week.label == "2026-W48" and completeness.local_date(week.start_ms) == date(2026, 11, 23)


def test_the_trend_follows_the_chosen_period(app: Flask, gateway: Gateway) -> None:
    send_shuffled(gateway, day_readings())
    engine = central_of(app).engine
    now = completeness.day_start_ms(DAY + timedelta(days=1)) + 3_600_000
    weeks = completeness.windows_back("week", DAY)
    months = completeness.windows_back("month", DAY)
    assert len(weeks) == 12 and len(months) == 6
    assert weeks[-1] == completeness.window("week", DAY) and months[-1] == completeness.window("month", DAY)
    assert all(a.end_ms == b.start_ms for a, b in zip(weeks, weeks[1:], strict=False))
    with engine.connect() as conn:
        by_week = completeness.period_trend(conn, weeks, now)
        by_month = completeness.period_trend(conn, months, now)
        by_day = completeness.trend(conn, [DAY], now)
    # the readings are of one day: the week and the month that hold it count that day (and what followed it
    # up to now, the hour of the next day), the earlier windows nothing
    assert [p["pct"] for p in by_week[:-1]] == [None] * 11 and by_week[-1]["expected"] > by_day[0]["expected"]
    assert (
        by_week[-1]["received"] == by_day[0]["received"] and by_month[-1]["received"] == by_day[0]["received"]
    )
    assert by_week[-1]["start"] == (DAY - timedelta(days=DAY.weekday())).isoformat()
    assert by_month[-1]["start"] == DAY.replace(day=1).isoformat()
