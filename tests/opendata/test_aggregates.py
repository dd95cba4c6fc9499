"""Sensor aggregates at the central: hourly/daily/monthly rows, CSV and JSON downloads and exports, each
export a Frictionless Data Package (validated with `frictionless`) carrying Satu Data metadata."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import frictionless
import pytest
import requests

from tests.central.conftest import Gateway
from tests.opendata.helpers import BASE_MS, HOUR_MS, close, expected_hours, figures, iso, reading, series

SATU_DATA_KEYS = ["judul", "konsep", "definisi", "klasifikasi", "ukuran", "satuan", "produsen_data", "walidata",
                  "periodisitas", "kode_referensi", "dasar_hukum"]  # fmt: skip
WIB_MIDNIGHT_MS = BASE_MS - (BASE_MS + 7 * HOUR_MS) % (24 * HOUR_MS) + 24 * HOUR_MS  # the next local midnight


def _validate(descriptor: Path | str) -> frictionless.Report:
    report = frictionless.validate(str(descriptor))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    return report


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_aggregates_is_a_valid_data_package_with_satu_data_metadata(
    gateway: Gateway, run_cli, tmp_path: Path, fmt: str
) -> None:
    records = series(1, 3)
    gateway.send("readings", records)
    run_cli(
        "set-place",
        gateway.id,
        "--region-code",
        "33.21.01",
        "--producer",
        "bpbd",
        "--by",
        "admin-ani",
    )
    out = tmp_path / "paket"
    done = run_cli("export-aggregates", "--period", "hour", "--format", fmt, "--out", str(out))
    assert done.exit_code == 0, done.output
    _validate(out / "datapackage.json")
    package = json.loads((out / "datapackage.json").read_text())
    assert list(package["satudata"]) == SATU_DATA_KEYS
    meta = package["satudata"]
    assert meta["kode_referensi"] == "33.21.01" and meta["produsen_data"] == "BPBD Kabupaten Demak"
    assert meta["periodisitas"] == "Per jam" and "rain_mm: Curah hujan" in meta["konsep"]
    assert package["resources"][0]["schema"]["primaryKey"] == ["node", "name", "period_start"]
    data = (out / f"agregat-hour.{fmt}").read_text()
    rows = list(csv.DictReader(io.StringIO(data))) if fmt == "csv" else json.loads(data)
    want = expected_hours(records)
    assert {(r["node"], r["name"], r["period_start"]): figures(r) for r in rows}.keys() == want.keys()
    assert all(close(figures(r), want[(r["node"], r["name"], r["period_start"])]) for r in rows)


def test_a_broken_package_fails_validation(gateway: Gateway, run_cli, tmp_path: Path) -> None:
    """The validation is real: a duplicated primary key is caught."""
    gateway.send("readings", series(1, 1))
    run_cli("export-aggregates", "--out", str(tmp_path / "p"))
    data = tmp_path / "p" / "agregat-hour.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([*lines, lines[1]]) + "\n")
    assert not frictionless.validate(str(tmp_path / "p" / "datapackage.json")).valid


def test_days_and_months_are_local_time_and_sum_their_hours(gateway: Gateway, run_cli) -> None:
    before, after = WIB_MIDNIGHT_MS - 30 * 60_000, WIB_MIDNIGHT_MS + 30 * 60_000  # 23:30 and 00:30 WIB
    records = [reading(1, "dmk-rain-01", "rain_mm", 1.0, before), reading(2, "dmk-rain-01", "rain_mm", 2.0, before + 60_000),
               reading(3, "dmk-rain-01", "rain_mm", 4.0, after)]  # fmt: skip
    gateway.send("readings", records)
    days = json.loads(run_cli("export-aggregates", "--period", "day", "--format", "json").output)
    assert [(d["period_start"], d["count"], d["sum"]) for d in days] == [
        (iso(WIB_MIDNIGHT_MS - 24 * HOUR_MS), 2, 3.0), (iso(WIB_MIDNIGHT_MS), 1, 4.0)]  # fmt: skip
    assert days[0]["period_start"].endswith("T17:00:00Z")  # local midnight, said in UTC
    months = json.loads(run_cli("export-aggregates", "--period", "month", "--format", "json").output)
    assert len(months) == 1 and months[0]["count"] == 3 and months[0]["max"] == 4.0


def test_downloads_over_http_in_csv_json_and_as_a_data_package(gateway: Gateway, live: str) -> None:
    records = series(1, 2)
    gateway.send("readings", records)
    start, end = iso(BASE_MS), iso(BASE_MS + 2 * HOUR_MS)
    query = {"gateway": gateway.id, "node": "dmk-wl-01", "period": "hour", "start": start, "end": end}
    as_csv = requests.get(f"{live}/opendata/v1/aggregates.csv", params=query, timeout=30)
    assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["node"], r["period_start"]) for r in rows] == [
        ("dmk-wl-01", start),
        ("dmk-wl-01", iso(BASE_MS + HOUR_MS)),
    ]
    as_json = requests.get(f"{live}/opendata/v1/aggregates.json", params=query, timeout=30).json()
    assert [r["count"] for r in as_json] == [6, 6] and as_json[0]["unit"] == "cm"
    package = requests.get(f"{live}/opendata/v1/datapackage.json", params=query, timeout=30)
    descriptor = package.json()
    assert descriptor["resources"][0]["path"].startswith(live + "/opendata/v1/aggregates.csv?")
    assert descriptor["satudata"]["walidata"] == "Dinas Komunikasi dan Informatika"
    _validate_remote(descriptor)
    for bad in (
        {},
        {**query, "period": "week"},
        {**query, "start": "kemarin"},
        {**query, "start": "2020-01-01"},
    ):
        answer = requests.get(f"{live}/opendata/v1/aggregates.json", params=bad, timeout=30)
        assert answer.status_code == 400 and answer.json()["error"] == "bad query", bad


def _validate_remote(descriptor: dict) -> None:
    package = frictionless.Package(descriptor)
    report = package.validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_downloads_carry_no_float_noise(gateway: Gateway, run_cli) -> None:
    # 12.1 + 0.1 + 0.1 is 12.299999999999999 in binary floats; a mean of thirds never ends
    values = [("water_cm", 12.1), ("water_cm", 0.1), ("water_cm", 0.1), ("rain_mm", 0.2794), ("rain_mm", 0.0),
              ("rain_mm", 0.0)]  # fmt: skip
    records = [
        reading(i + 1, "dmk-wl-01", name, v, BASE_MS + i * 60_000) for i, (name, v) in enumerate(values)
    ]
    assert gateway.send("readings", records).json["acked"] == len(records)
    rows = json.loads(run_cli("export-aggregates", "--format", "json").output)
    got = {r["name"]: (r["sum"], r["mean"], r["min"], r["max"]) for r in rows}
    assert got == {"water_cm": (12.3, 4.1, 0.1, 12.1), "rain_mm": (0.2794, 0.09313, 0.0, 0.2794)}
    text = run_cli("export-aggregates", "--format", "csv").output
    assert ",12.3\n" in text and "12.29999" not in text and "0.0931333" not in text
