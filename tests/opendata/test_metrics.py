"""`/metrics` at the central in Prometheus format: figures from the database, no personal data, readable
without login, restricted by a bearer token or addresses when configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from gateway.errors import ConfigError
from sync.central.db import gateways
from sync.central.fleet import alerts as fleet_alerts
from sync.central.fleet.tables import alerts
from sync.central.opendata import settings
from tests.central.conftest import Gateway, central_of
from tests.opendata.conftest import complaint
from tests.opendata.helpers import series


def scrape(app: Flask, **kwargs) -> dict[str, dict[tuple, float]]:
    answer = app.test_client().get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.data
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    assert answer.headers["Content-Type"].count("charset") == 1  # one charset: Prometheus 3 refuses two
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_central_metrics_count_gateways_ingest_backlog_and_submissions(app: Flask, gateway: Gateway) -> None:
    records = series(1, 1)
    gateway.send("readings", records)
    gateway.send("submissions", [complaint(1), complaint(2, kind="request")])
    with central_of(app).engine.begin() as conn:  # what a gateway reports on its sync requests
        conn.execute(
            gateways.update().values(backlog=json.dumps({"readings": 250, "events": 0, "submissions": 1}))
        )
    got = scrape(app)
    assert got["anjungan_central_gateways"] == {(): 1.0}
    stored = got["anjungan_central_gateway_records_stored_total"]
    assert stored[(("gateway", gateway.id), ("stream", "readings"))] == len(records)
    assert stored[(("gateway", gateway.id), ("stream", "submissions"))] == 2
    assert (
        got["anjungan_central_gateway_backlog_records"][(("gateway", gateway.id), ("stream", "readings"))]
        == 250
    )
    assert got["anjungan_central_submissions"] == {(("kind", "complaint"),): 1, (("kind", "objection"),): 0,
                                                   (("kind", "request"),): 1}  # fmt: skip
    assert got["anjungan_central_gateway_last_batch_timestamp_seconds"][(("gateway", gateway.id),)] > 0


def test_central_metrics_count_alerts_per_state_and_kind(app: Flask) -> None:
    rows = [("open", "power"), ("acknowledged", "node-silent"), ("resolved", "power"), ("resolved", "power")]
    with central_of(app).engine.begin() as conn:
        for i, (state, kind) in enumerate(rows):
            conn.execute(alerts.insert().values(key=f"{kind}/{i}", kind=kind, gateway_id="demo-x", state=state,
                                                started_ms=1, opened_ms=1, detail="{}"))  # fmt: skip
    got = scrape(app)["anjungan_central_alerts"]
    assert got[(("kind", "power"), ("state", "open"))] == 1
    assert got[(("kind", "node-silent"), ("state", "acknowledged"))] == 1
    assert got[(("kind", "power"), ("state", "resolved"))] == 2
    assert got[(("kind", "water"), ("state", "open"))] == 0
    assert len(got) == len(fleet_alerts.STATES) * len(fleet_alerts.KINDS)


def test_no_personal_data_in_any_metric(app: Flask, gateway: Gateway) -> None:
    gateway.send("submissions", [complaint(1), complaint(2, rahasia=True)])
    text = app.test_client().get("/metrics").get_data(as_text=True)
    for private in ("Warga", "33210101010", "0812", "DMK-WONOSALAM-", "Laporan", "0c1d2e3f"):
        assert private not in text


def test_metrics_may_be_restricted_to_a_bearer_token_and_to_addresses(app: Flask, gateway: Gateway) -> None:
    client = app.test_client()
    app.config["OPENDATA_METRICS_TOKEN"] = "s3cret-scrape"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(app, headers={"Authorization": "Bearer s3cret-scrape"})["anjungan_central_gateways"] == {
        (): 1.0
    }
    app.config["OPENDATA_METRICS_ALLOW"] = "10.20.0.0/16, 127.0.0.1"
    token = {"Authorization": "Bearer s3cret-scrape"}
    assert client.get("/metrics", headers=token, environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", headers=token, environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 403
    app.config["OPENDATA_METRICS_TOKEN"] = ""
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200


def test_settings_come_from_the_environment() -> None:
    config = settings.from_environment({"ANJUNGAN_CENTRAL_SERVER_METRICS_TOKEN": "from-env",
                                        "ANJUNGAN_CENTRAL_SERVER_UTC_OFFSET_H": "8"})  # fmt: skip
    assert config["OPENDATA_METRICS_TOKEN"] == "from-env" and config["OPENDATA_UTC_OFFSET_H"] == 8
    assert config["OPENDATA_METRICS_ALLOW"] == ""
    with pytest.raises(ConfigError, match="ANJUNGAN_CENTRAL_SERVER_UTC_OFFSET_H: expected int"):
        settings.from_environment({"ANJUNGAN_CENTRAL_SERVER_UTC_OFFSET_H": "WIB"})


def test_every_open_data_setting_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "opendata.md").read_text()
    assert [s.env_name for s in settings.SETTINGS if f"`{s.env_name}`" not in text] == []
