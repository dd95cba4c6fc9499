"""The fleet's back-office pages as a teknisi sees them: the fleet with its nodes and map, alerts (acknowledged
by the officer, audited), completeness zones with the trend chart, sensor charts; never a citizen's data."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from flask import Flask

from sync import protocol
from sync.central.backoffice import accounts
from sync.central.backoffice.models import audit
from sync.central.fleet import alerts, completeness, texts
from sync.central.fleet.settings import FleetSettings
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import citizen, logged_in, post
from tests.fleet.conftest import reading

HEALTH = "version=0.1.0,uptime_s=7200,clock=1,offset_ms=-120,dead=0,sync_s=60,oldest_readings_s=90,disk_free_b=2000000000,disk_total_b=8000000000,store_b=5000000,budget_b=100000000"  # noqa: E501
NODES = "dmk-wl-01,boot=12,fw=1.0.3,mem=51234,rssi=-67,bat=3.91,bad=2,every=60,seen=5,up=5400"


def setup_fleet(app: Flask, gateway: Gateway, clock: Clock) -> None:
    now_ms = int(clock() * 1000)
    start = now_ms - 3 * 3_600_000
    records = [reading(i + 1, start + i * 60_000, value=100.0 + i % 40) for i in range(170)]
    assert gateway.send("readings", records).status_code == 200
    assert (
        gateway.send(
            "submissions", [citizen(1, "complaint", "DMK-WONOSALAM-261123-00016", now_ms)]
        ).status_code
        == 200
    )
    headers = {
        protocol.HEADER_HEALTH: HEALTH,
        protocol.HEADER_NODES: NODES,
        protocol.HEADER_BACKLOG: "submissions=0,events=0,readings=5",
    }
    assert gateway.get("/api/v1/changes", headers=headers).status_code == 200


def test_a_teknisi_reads_the_fleet_and_sets_places(app: Flask, gateway: Gateway, clock: Clock) -> None:
    setup_fleet(app, gateway, clock)
    accounts.save_opd(central_of(app).engine, "bpbd", "BPBD Kabupaten Demak")
    tek = logged_in(app, "tek-budi", "teknisi")
    answer = post(tek, "/armada/tempat", {"gateway": gateway.id, "label": "Balai Desa Wonosalam", "lat": "-6.87",
                                          "lon": "110.61"}, page="/armada")  # fmt: skip
    assert answer.status_code == 302
    answer = post(tek, "/armada/tempat", {"gateway": gateway.id, "node": "dmk-wl-01", "label": "Jembatan Tuntang",
                                          "lat": "-6.88", "lon": "110.63"}, page="/armada")  # fmt: skip
    assert answer.status_code == 302
    assert post(tek, "/armada/node", {"gateway": gateway.id, "node": "dmk-wl-01", "producer": "bpbd",
                                      "interval_s": "60"}, page="/armada").status_code == 302  # fmt: skip
    stray = post(tek, "/armada/node", {"gateway": gateway.id, "node": "dmk-wl-01", "producer": "BPBD"},
                 page="/armada")  # fmt: skip
    assert stray.status_code == 400
    assert "OPD BPBD tidak dikenal. OPD yang dikenal: bpbd." in stray.get_data(as_text=True)
    far = post(
        tek, "/armada/tempat", {"gateway": gateway.id, "label": "x", "lat": "91", "lon": "0"}, page="/armada"
    )
    assert far.status_code == 400
    assert "Koordinat di luar jangkauan: lintang -90 sampai 90" in far.get_data(as_text=True)
    assert tek.get("/bahasa/en?next=/armada").status_code == 302
    far = post(
        tek, "/armada/tempat", {"gateway": gateway.id, "label": "x", "lat": "91", "lon": "0"}, page="/armada"
    )
    assert far.status_code == 400 and "Coordinates out of range: latitude -90 to 90" in far.get_data(
        as_text=True
    )
    assert "(-6.87000; 110.61000)" in tek.get("/armada").get_data(as_text=True)
    assert tek.get("/bahasa/id?next=/armada").status_code == 302
    unknown = post(tek, "/armada/tempat", {"gateway": gateway.id, "node": "dmk-xx-99", "label": "Salah ketik",
                                           "lat": "-6.9", "lon": "110.6"}, page="/armada")  # fmt: skip
    assert unknown.status_code == 400 and "dmk-xx-99" in unknown.get_data(as_text=True)
    page = tek.get("/armada").get_data(as_text=True)
    for text in ("Balai Desa Wonosalam", "Jembatan Tuntang", "0.1.0", "1.0.3", "-67 dBm", "3,91 V", "bpbd",
                 "(-6,87000; 110,61000)", "Perangkat anjungan menyala", "90 menit", "2 jam", "Node menyala (hello terakhir)",
                 "Interval yang diatur di pusat", '<abbr title="diatur di pusat">*</abbr>',
                 "pengajuan 0, peristiwa 0, bacaan 5", "tertua bacaan: 90 detik", "selisih -120 ms", "water_cm"):  # fmt: skip
        assert text in page, text
    assert f"{gateway.id}</a></strong> {gateway.id}" not in page  # a name that is the id is not said twice
    svg = tek.get("/armada/peta.svg")
    assert svg.mimetype == "image/svg+xml"
    assert "Balai Desa Wonosalam" in svg.get_data(as_text=True) and "http" not in svg.get_data(as_text=True).replace(
        "http://www.w3.org/2000/svg", "")  # fmt: skip
    with central_of(app).engine.connect() as conn:
        actions = [
            r.action for r in conn.execute(sa.select(audit.c.action).where(audit.c.username == "tek-budi"))
        ]
    assert actions.count("fleet-place") == 2 and actions.count("fleet-node") == 1


def test_alerts_completeness_and_charts_pages(app: Flask, gateway: Gateway, clock: Clock) -> None:
    setup_fleet(app, gateway, clock)
    engine = central_of(app).engine
    alerts.run(engine, int((clock() + 600) * 1000), FleetSettings())
    tek = logged_in(app, "tek-sari", "teknisi")
    page = tek.get("/peringatan").get_data(as_text=True)
    assert f"Anjungan {gateway.id} tidak menghubungi pusat" in page
    with engine.connect() as conn:
        (alert,) = alerts.listing(conn)
    assert post(tek, f"/peringatan/{alert['id']}/terima", page="/peringatan").status_code == 302
    assert post(tek, f"/peringatan/{alert['id']}/terima", page="/peringatan").status_code == 409
    listed = tek.get("/peringatan").get_data(as_text=True)
    assert "tek-sari" in listed
    # times in the regency's local time, one format (as the charts), never UTC ISO
    opened = texts.local_time(alert["opened_ms"])
    assert (
        opened.endswith(" WIB") and opened in listed and not re.search(r"\d{2}:\d{2}:\d{2}(\.\d+)?Z", listed)
    )
    day = completeness.local_date(int(clock() * 1000)).isoformat()
    page = tek.get(f"/kelengkapan?periode=day&kelompok=node&tanggal={day}").get_data(as_text=True)
    assert "dmk-wl-01" in page and "data:image/svg+xml;base64," in page and 'class="zone zone-' in page
    week = tek.get(f"/kelengkapan?periode=week&kelompok=node&tanggal={day}").get_data(as_text=True)
    number = date.fromisoformat(day).isocalendar()
    assert f"Minggu {number[1]}, {number[0]}" in week and "-W" not in week
    assert "per minggu, 12 minggu terakhir" in week and "30 hari" not in week
    month = tek.get(f"/kelengkapan?periode=month&kelompok=node&tanggal={day}").get_data(as_text=True)
    assert "per bulan, 6 bulan terakhir" in month
    assert tek.get("/kelengkapan?periode=year").status_code == 400
    for far in ("periode=month&tanggal=9999-12-31", "periode=day&tanggal=0001-01-01", "tanggal=1999-12-31"):
        answer = tek.get(f"/kelengkapan?{far}")
        assert answer.status_code == 400 and "Tanggal tidak valid." in answer.get_data(as_text=True)
    for period in ("hour", "day", "month"):
        chart = tek.get(f"/grafik/{gateway.id}/dmk-wl-01/water_cm?periode={period}")
        assert chart.status_code == 200 and "data:image/svg+xml;base64," in chart.get_data(as_text=True)
    everything = "".join(tek.get(p).get_data(as_text=True) for p in ("/armada", "/peringatan", "/kelengkapan",
                                                                     "/armada/peta.svg"))  # fmt: skip
    for personal in ("Siti Aminah", "3321014507800001", "081234567890", "Jalan berlubang"):
        assert personal not in everything


def test_the_oldest_record_is_shown_only_for_a_stream_that_still_waits(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    """The health report (and its ``oldest_<stream>_s``) is renewed every few rounds; the backlog comes with
    every request. A stream the last request said is empty shows no age of an "oldest" record."""
    setup_fleet(app, gateway, clock)
    tek = logged_in(app, "tek-budi", "teknisi")
    assert "tertua bacaan: 90 detik" in tek.get("/armada").get_data(as_text=True)
    empty = {protocol.HEADER_BACKLOG: "submissions=0,events=0,readings=0"}  # no health report this round
    assert gateway.get("/api/v1/changes", headers=empty).status_code == 200
    page = tek.get("/armada").get_data(as_text=True)
    assert "bacaan 0" in page and "tertua bacaan" not in page
