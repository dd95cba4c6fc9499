"""CKAN DataStore publishing (`anjungan central publish-ckan`) against the DataStore test double."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync.central.opendata import ckan, satudata
from tests.central.conftest import Gateway, central_of
from tests.fixtures.ckan import API_KEY, RESOURCE_ID, RunningDouble
from tests.opendata.helpers import BASE_MS, HOUR_MS, close, expected_hours, figures, iso, reading, series

SATU_DATA_KEYS = {"konsep", "definisi", "klasifikasi", "ukuran", "satuan", "produsen_data", "walidata",
                  "periodisitas", "kode_referensi", "dasar_hukum"}  # fmt: skip


def published(double: RunningDouble) -> dict[tuple[str, str, str], dict]:
    return {key: row for key, row in double.double.rows.items()}


def assert_matches(double: RunningDouble, records: list[dict]) -> None:
    want = expected_hours(records)
    got = published(double)
    assert set(got) == set(want)
    assert all(close(figures(got[key]), want[key]) for key in want), [
        (k, figures(got[k]), want[k]) for k in want
    ]


def test_publish_creates_the_keyed_table_upserts_hours_and_sets_satu_data_metadata(
    gateway: Gateway, ckan_double: RunningDouble, run_cli
) -> None:
    records = series(1, 3)
    records.append(
        reading(len(records) + 1, "dmk-wl-01", "water_cm", 999.0, BASE_MS, offset=None)
    )  # clock unknown
    assert gateway.send("readings", records).json["acked"] == len(records)
    placed = run_cli("set-place", gateway.id, "--region-code", "33.21.01.2001", "--producer", "bpbd",
                     "--by", "teknisi-ani")  # fmt: skip
    assert placed.exit_code == 0, placed.output
    done = run_cli(
        "publish-ckan", "--url", ckan_double.url, "--api-key", API_KEY, "--resource-id", RESOURCE_ID
    )
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "published 6 row(s) from 1 gateway(s)"  # 3 hours x 2 series
    double = ckan_double.double
    assert double.primary_key == ["node", "name", "period_start"]
    assert double.fields and double.fields["period_start"] == "timestamp" and double.fields["count"] == "int8"
    assert_matches(ckan_double, records)  # the reading of unknown time is in no hour
    row = published(ckan_double)[("dmk-wl-01", "water_cm", iso(BASE_MS))]
    assert (row["region_code"], row["producer"], row["unit"], row["gateway"]) == (
        "33.21.01.2001",
        "BPBD Kabupaten Demak",
        "cm",
        gateway.id,
    )
    upserts = [body for action, body in double.calls if action == "datastore_upsert"]
    assert upserts and all(body["method"] == "upsert" for body in upserts)
    assert (
        set(double.extras) >= SATU_DATA_KEYS and double.extras["sumber"] == "kominfo"
    )  # others' extras kept
    assert double.extras["kode_referensi"] == "33.21.01.2001"
    assert (
        double.extras["produsen_data"] == "BPBD Kabupaten Demak"
        and double.extras["periodisitas"] == "Per jam"
    )
    assert "water_cm: cm" in double.extras["satuan"] and "rain_mm: mm" in double.extras["satuan"]
    # nothing new: a second run sends nothing
    again = run_cli(
        "publish-ckan", "--url", ckan_double.url, "--api-key", API_KEY, "--resource-id", RESOURCE_ID
    )
    assert again.output.strip() == "published 0 row(s) from 0 gateway(s)"
    assert double.problems == []


def test_a_rerun_after_an_outage_never_duplicates_and_late_readings_replace_their_hour(
    gateway: Gateway, ckan_double: RunningDouble
) -> None:
    engine = central_of(gateway.client.application).engine
    records = series(1, 4)
    gateway.send("readings", records)
    client = ckan.remote(ckan_double.url, API_KEY)
    options = ckan.Options(resource_id=RESOURCE_ID, chunk=3)
    ckan_double.double.fail_after = 1  # the portal goes down after the first chunk
    with pytest.raises(ckan.PublishError, match="503|Service Unavailable"):
        ckan.publish(engine, client, options)
    assert 0 < len(ckan_double.double.rows) < len(expected_hours(records))
    ckan_double.double.fail_after = None  # back up: the same rows are sent again, as upserts
    report = ckan.publish(engine, client, options)
    assert report.gateways == {gateway.id: len(records)}
    assert_matches(ckan_double, records)
    # readings of an already published hour arrive late (after the gateway's own outage), and a new hour
    late = [reading(len(records) + 1, "dmk-wl-01", "water_cm", 50.0, BASE_MS + 5 * 60_000),
            reading(len(records) + 2, "dmk-wl-01", "water_cm", 70.0, BASE_MS + 5 * HOUR_MS)]  # fmt: skip
    gateway.send("readings", late)
    before = len(ckan_double.double.rows)
    assert ckan.publish(engine, client, options).rows == 3  # the touched hours of both series, recomputed
    assert len(ckan_double.double.rows) == before + 1
    assert_matches(ckan_double, records + late)


def test_a_wrong_api_key_is_one_plain_error(gateway: Gateway, ckan_double: RunningDouble, run_cli) -> None:
    gateway.send("readings", series(1, 1))
    done = run_cli(
        "publish-ckan", "--url", ckan_double.url, "--api-key", "wrong", "--resource-id", RESOURCE_ID
    )
    assert (
        done.exit_code == 1
        and "datastore_create" in done.output
        and len(done.output.strip().splitlines()) == 1
    )


def test_publish_on_a_schedule_until_stopped(
    gateway: Gateway, ckan_double: RunningDouble, db_url: str, tmp_path: Path
) -> None:
    first = series(1, 2)
    gateway.send("readings", first)
    env = {**os.environ, "ANJUNGAN_CENTRAL_DB": db_url, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key"),
           "ANJUNGAN_CENTRAL_SERVER_CKAN_API_KEY": API_KEY}  # fmt: skip
    argv = [sys.executable, "-m", "gateway", "central", "--files-dir", str(tmp_path / "files"), "publish-ckan",
            "--url", ckan_double.url, "--resource-id", RESOURCE_ID, "--every", "1"]  # fmt: skip
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: len(ckan_double.double.rows) == len(expected_hours(first)), child)
        later = series(len(first) + 1, 1, start_ms=BASE_MS + 2 * HOUR_MS)
        gateway.send("readings", later)
        _wait(lambda: len(ckan_double.double.rows) == len(expected_hours(first + later)), child)
    finally:
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    assert child.returncode == 0, output
    assert_matches(ckan_double, first + later)
    assert "published" in output


def _wait(condition, child: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, child.communicate()[0]
        assert time.monotonic() < deadline, "the scheduled publisher did not publish in time"
        time.sleep(0.05)


def test_a_definition_holding_a_semicolon_stays_whole_when_extras_are_merged() -> None:
    rows = [{"name": n, "producer": "BPBD", "region_code": "33.21.08"} for n in ("mains_v", "water_cm")]
    meta = satudata.dataset_metadata(rows, "hour", "Diskominfo")
    assert satudata.split_entries("definisi", meta["definisi"]) == [
        "mains_v: Tegangan jaringan listrik PLN di lokasi; 0 V: padam.",
        "water_cm: Tinggi permukaan air di atas titik nol pos pantau.",
    ]
    existing = [{"key": "definisi", "value": "mains_v: Tegangan jaringan listrik PLN di lokasi; 0 V: padam."},
                {"key": "kode_referensi", "value": "33.21.01"}]  # fmt: skip
    merged = {e["key"]: e["value"] for e in ckan.merge_metadata(existing, meta)}
    assert merged["definisi"] == meta["definisi"]  # not "0 V: padam." as an entry of its own
    assert merged["kode_referensi"] == "33.21.01; 33.21.08"
    assert "power_factor: cos φ" in satudata.dataset_metadata(
        [{"name": "power_factor", "producer": "x", "region_code": None}], "hour", "w")["satuan"]  # fmt: skip
