"""The kiosk port's `/metrics` (Prometheus): readings, readings/s, store size, backlog, bad frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from gateway.store import Store, db


def scrape(client, **kwargs) -> dict[str, dict[tuple, float]]:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.data
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    assert answer.headers["Content-Type"].count("charset") == 1  # one charset: Prometheus 3 refuses two
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_gateway_metrics_from_the_store(app: Flask, kiosk_store: Store, feed: Callable[..., None]) -> None:
    now = db.now_ms() - 60_000  # frames 1, 6, 11, ... minutes ago: none near the 10-minute window's edge
    feed("dmk-wl-01", {"water_cm": 120.0, "temp_c": 27.5}, at=now, history_hours=1)  # 13 frames, 5 min apart
    kiosk_store.writer().console("dmk-wl-01", b"Traceback (most recent call last):", node="dmk-wl-01").result(
        30
    )
    kiosk_store.writer().console("dmk-wl-01", b"@{broken*00000000", node="dmk-wl-01").result(30)
    got = scrape(app.test_client())
    assert got["anjungan_gateway_readings_stored_total"] == {(): 26.0}
    assert got["anjungan_gateway_readings_per_second"][()] == 2 * 2 / 600  # 2 frames of 2 readings
    assert got["anjungan_gateway_node_frames_total"] == {(("node", "dmk-wl-01"),): 13.0}
    assert got["anjungan_gateway_node_bad_frames_total"] == {(("node", "dmk-wl-01"),): 2.0}
    assert got["anjungan_gateway_node_last_seen_timestamp_seconds"][(("node", "dmk-wl-01"),)] == now / 1000
    assert got["anjungan_gateway_store_bytes"][()] == kiosk_store.used_bytes()
    backlog = got["anjungan_gateway_backlog_records"]
    assert backlog[(("stream", "readings"),)] == 26.0
    assert got["anjungan_gateway_backlog_oldest_age_seconds"][(("stream", "readings"),)] >= 3600


def test_no_personal_data_in_the_kiosk_metrics(app: Flask, kiosk_store: Store) -> None:
    kiosk_store.add_submission("complaint", {"judul": "Jalan rusak", "isi": "x", "rahasia": False},
                               {"nama": "Siti Aminah", "nik": "3321010101010001", "telepon": "081234567890"},
                               gateway_id="test-kiosk", due_date=None)  # fmt: skip
    text = app.test_client().get("/metrics").get_data(as_text=True)
    for private in ("Siti", "3321010101010001", "081234567890", "Jalan rusak"):
        assert private not in text
    assert 'anjungan_gateway_backlog_records{stream="submissions"} 1.0' in text


def test_kiosk_metrics_may_be_restricted(make_app: Callable[..., Flask], kiosk_store: Store) -> None:
    client = make_app(KIOSK_METRICS_TOKEN="scrape-me", KIOSK_METRICS_ALLOW="127.0.0.0/8").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200
    far = {"REMOTE_ADDR": "198.51.100.7"}
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}, environ_base=far).status_code
        == 403
    )


def test_prometheus_client_is_imported_at_the_first_scrape_only(config_file: Path) -> None:
    """A kiosk nobody scrapes does not carry prometheus_client (about 1.2 MB of its memory)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from gateway.config import load\n"
        "from kiosk.app import create_app\n"
        f"app = create_app(load({str(config_file)!r}, env={{}}))\n"
        "before = 'prometheus_client' in sys.modules\n"
        "answer = app.test_client().get('/metrics')\n"
        "print(before, answer.status_code, 'prometheus_client' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "200", "True"]
