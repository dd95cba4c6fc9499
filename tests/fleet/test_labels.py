"""Measurements as people read them: a label with its unit from the one table (sync/central/measures.py), in
Bahasa Indonesia or English, on the fleet, completeness, alert and chart pages and in the open-data packages'
titles; an unknown name shown as it is; the machine-readable columns keep the names."""

from __future__ import annotations

import base64
import csv
import io
import json

from flask import Flask

from sync.central import measures
from sync.central.fleet import alerts, completeness, texts
from sync.central.fleet.settings import FleetSettings
from sync.central.opendata import aggregates, datapackage
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import logged_in
from tests.fleet.conftest import reading

# what the project's firmware sends (firmware/sonar.py, rain.py, dht22.py, bme280.py, pzem.py, frame.py)
FIRMWARE_NAMES = ("water_cm", "distance_cm", "rain_mm", "temp_c", "rh_pct", "pressure_hpa", "mains_v", "mains_ok",
                  "current_a", "power_w", "energy_wh", "freq_hz", "power_factor", "bat_v")  # fmt: skip


def test_one_table_names_every_measurement_of_the_firmware() -> None:
    assert [n for n in FIRMWARE_NAMES if n not in measures.MEASURES] == []
    assert measures.label("water_cm") == "Tinggi muka air (cm)"
    assert measures.label("current_a", "en") == "Current (A)"
    assert measures.label("pm25_ugm3") == "Debu halus PM2,5 (µg/m³)"
    assert measures.label("power_factor") == "Faktor daya (cos φ)"
    assert measures.label("mains_ok", "en") == "Mains power status (0/1)"
    for name in FIRMWARE_NAMES:  # every one defined in both languages, with a unit
        known = measures.MEASURES[name]
        assert known.definition and known.definition_en and measures.unit_of(name), name
    assert measures.label("water_level_cm") == "water_level_cm" == measures.label("water_level_cm", "en")
    assert texts.detail_items({"water_cm": 162.0, "limit_cm": 150.0}, "id") == [
        ("Ambang (cm)", "150"), ("Tinggi muka air (cm)", "162")]  # fmt: skip
    assert texts.detail_items({"cause": "no-mains", "mains_v": 0.0}, "en") == [
        ("Cause", "power cut: 0 V"), ("Mains voltage (V)", "0")]  # fmt: skip
    assert texts.detail_items({"cause": "no-mains", "mains_min_v": 150.0, "mains_v": 97.5}, "id") == [
        ("Sebab", "tegangan di bawah batas padam"), ("Batas tegangan padam (V)", "150"),
        ("Tegangan listrik (V)", "97,5")]  # fmt: skip
    assert texts.detail_items({"cause": "no-answer", "mains_v": None}, "id")[0] == (
        "Sebab",
        "node listrik tidak menjawab",
    )


def _readings(gateway: Gateway, clock: Clock) -> None:
    now = int(clock() * 1000)
    start = now - 29 * 60_000  # the last minute's readings are the newest: the node is not silent
    records = []
    for i, (name, value) in enumerate(
        [("water_cm", 162.0), ("current_a", 0.52), ("water_level_cm", 40.0)] * 30
    ):
        records.append(reading(i + 1, start + (i // 3) * 60_000, name=name, value=value))
    assert gateway.send("readings", records).status_code == 200


def test_the_pages_show_labels_with_units(app: Flask, gateway: Gateway, clock: Clock) -> None:
    _readings(gateway, clock)
    alerts.run(central_of(app).engine, int(clock() * 1000), FleetSettings())
    tek = logged_in(app, "tek-budi", "teknisi")
    fleet = tek.get("/armada").get_data(as_text=True)
    assert 'title="water_cm">Tinggi muka air (cm)</a>: 162' in fleet
    assert 'title="current_a">Arus listrik (A)</a>: 0,52' in fleet  # a decimal comma in Bahasa Indonesia
    assert 'title="water_level_cm">water_level_cm</a>: 40' in fleet  # unknown: as it is
    assert ">water_cm<" not in fleet and ">current_a<" not in fleet

    day = completeness.local_date(int(clock() * 1000)).isoformat()
    table = tek.get(f"/kelengkapan?kelompok=node&tanggal={day}").get_data(as_text=True)
    assert (
        "Tinggi muka air (cm)</a>" in table and "Arus listrik (A)</a>" in table and ">water_cm<" not in table
    )

    chart = tek.get(f"/grafik/{gateway.id}/dmk-wl-01/current_a").get_data(as_text=True)
    assert f'{gateway.id} / dmk-wl-01 / <span title="current_a">Arus listrik (A)</span>' in chart
    assert (
        "<td>0,52</td>" in chart and "<td>0.52</td>" not in chart
    )  # the table's figures with decimal commas
    legend = base64.b64decode(chart.split("data:image/svg+xml;base64,")[1].split('"')[0]).decode()
    assert ">Rata-rata<" in legend and ">rata-rata<" not in legend

    warned = tek.get("/peringatan").get_data(as_text=True)
    assert "Ambang (cm): 150; Tinggi muka air (cm): 162" in warned and "water_cm" not in warned

    assert tek.get("/bahasa/en?next=/armada").status_code == 302
    in_english = tek.get("/armada").get_data(as_text=True)
    assert ">Water level (cm)</a>: 162" in in_english and ">Current (A)</a>: 0.52" in in_english
    assert "Threshold (cm): 150; Water level (cm): 162" in tek.get("/peringatan").get_data(as_text=True)


def test_open_data_titles_use_labels_and_the_columns_keep_the_names(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    _readings(gateway, clock)
    client = app.test_client()
    package = json.loads(
        client.get(f"/opendata/v1/datapackage.json?gateway={gateway.id}").get_data(as_text=True)
    )
    assert (
        package["title"]
        == "Data sensor anjungan: Arus listrik (A), Tinggi muka air (cm), water_level_cm (per jam)"
    )
    assert package["description"].startswith("Arus listrik (A): Arus yang mengalir")
    assert (
        "Tinggi muka air (cm): Tinggi permukaan air di atas titik nol pos pantau." in package["description"]
    )
    assert "water_cm: Tinggi muka air" in package["satudata"]["konsep"]  # the metadata pairs name and concept
    assert [f["name"] for f in package["resources"][0]["schema"]["fields"]] == list(aggregates.FIELDS)
    assert [f["id"] for f in datapackage.ckan_fields()] == list(aggregates.FIELDS)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/opendata/v1/aggregates.csv?gateway={gateway.id}")
                                           .get_data(as_text=True))))  # fmt: skip
    assert list(rows[0]) == list(aggregates.FIELDS)
    assert {(r["name"], r["unit"]) for r in rows} == {
        ("water_cm", "cm"),
        ("current_a", "A"),
        ("water_level_cm", "cm"),
    }
    many = [{"name": n} for n in ("water_cm", "rain_mm", "temp_c", "rh_pct", "bat_v")]
    assert datapackage.title(many, "day") == (
        "Data sensor anjungan: Curah hujan (mm), Kelembapan relatif (%), Suhu udara (°C) dan 2 pengukuran lain "
        "(harian)"
    )


def test_the_rain_chart_sums_millimetres_and_counts_readings_apart(
    app: Flask, gateway: Gateway, clock: Clock
) -> None:
    """Rain adds up: its chart's table shows each period's millimetres under their own label, and the number of
    readings under its own (not "Jumlah" for a count beside millimetres)."""
    now = int(clock() * 1000)
    hour = now // 3_600_000 * 3_600_000
    records = [reading(i + 1, hour + i * 60_000, node="dmk-wx-01", name="rain_mm", value=v)
               for i, v in enumerate([0.2, 1.4, 2.6, 0.0])]  # fmt: skip
    assert gateway.send("readings", records).status_code == 200
    tek = logged_in(app, "tek-rina", "teknisi")
    chart = tek.get(f"/grafik/{gateway.id}/dmk-wx-01/rain_mm?periode=hour").get_data(as_text=True)
    assert "<th>Curah hujan (mm), jumlah</th><th>Jumlah bacaan</th>" in chart
    assert '<td class="sum">4,2</td><td class="count">4</td>' in chart
    level = [reading(5, now - 60_000, node="dmk-wl-01", name="water_cm", value=162.0)]
    assert gateway.send("readings", level).status_code == 200
    other = tek.get(f"/grafik/{gateway.id}/dmk-wl-01/water_cm?periode=hour").get_data(as_text=True)
    assert "<th>Jumlah bacaan</th>" in other and 'class="sum"' not in other  # a level is not summed
