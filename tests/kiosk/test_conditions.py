"""Local conditions, charts, and serta-merta alerts from the sensors (recorded once per crossing)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask.testing import FlaskClient

from gateway.store import Store, db
from kiosk.alerts import Thresholds, evaluate

LIMITS = Thresholds(water_cm=150.0, mains_min_v=150.0, stale_ms=15 * 60_000)


def alert_events(store: Store) -> list[tuple[str, str]]:
    return [
        (e["kind"], e["data"]["alert"]) for e in store.events(limit=1000) if e["kind"].startswith("alert")
    ]


def test_conditions_page_shows_readings_freshness_and_charts(
    client: FlaskClient, feed: Callable[..., None]
) -> None:
    feed("dmk-wl-01", {"water_cm": 131.5}, history_hours=30)
    feed("dmk-wx-01", {"rain_mm": 2.4, "temp_c": 27.9, "rh_pct": 81.0})
    feed("dmk-pw-01", {"mains_v": 221.0}, at=db.now_ms() - 60 * 60_000)  # an hour old: stale
    page = client.get("/kondisi").get_data(as_text=True)
    assert "Tinggi muka air" in page and "132" in page  # 131.5 shown without decimals
    assert "Curah hujan" in page and "2.4" in page and "27.9" in page and "81" in page
    assert "Listrik menyala" in page
    assert "data lama: 60 menit lalu" in page
    assert page.index("dmk-wl-01") < page.index("dmk-wx-01") < page.index("dmk-pw-01")  # water first
    for span in ("24j", "7h"):
        chart = client.get(f"/kondisi/grafik/dmk-wl-01/water_cm/{span}.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        svg = chart.get_data(as_text=True)
        assert "<svg" in svg and "Tinggi muka air" in svg and "Batas siaga" in svg
        assert "kozea" not in svg and "<script" not in svg
    assert client.get("/kondisi/grafik/dmk-wl-01/water_cm/1y.svg").status_code == 404
    empty = client.get("/kondisi/grafik/nobody/water_cm/24j.svg").get_data(as_text=True)
    assert "Belum ada data" in empty


def test_charts_reference_nothing_outside(client: FlaskClient, feed: Callable[..., None]) -> None:
    feed("dmk-wl-01", {"water_cm": 120.0}, history_hours=2)
    svg = client.get("/kondisi/grafik/dmk-wl-01/water_cm/24j.svg").get_data(as_text=True)
    assert "kozea.github.io" not in svg and 'xlink:href="http' not in svg and 'src="http' not in svg


def test_flood_alert_banner_and_one_event_per_crossing(client: FlaskClient, kiosk_store: Store,
                                                        feed: Callable[..., None]) -> None:  # fmt: skip
    feed("dmk-wl-01", {"water_cm": 120.0})
    assert "PERINGATAN BANJIR" not in client.get("/api/alerts").get_data(as_text=True)
    feed("dmk-wl-01", {"water_cm": 162.0})
    banner = client.get("/api/alerts").get_data(as_text=True)
    assert "PERINGATAN BANJIR" in banner and "162 cm" in banner and "150 cm" in banner
    for path in ("/", "/informasi/berkala", "/permohonan", "/status"):
        assert "PERINGATAN BANJIR" in client.get(path).get_data(as_text=True)
    for _ in range(5):
        client.get("/api/alerts")
    assert alert_events(kiosk_store) == [("alert", "water:dmk-wl-01")]
    feed("dmk-wl-01", {"water_cm": 148.0})  # inside the hysteresis band: still on
    client.get("/api/alerts")
    assert alert_events(kiosk_store) == [("alert", "water:dmk-wl-01")]
    feed("dmk-wl-01", {"water_cm": 140.0})
    assert "PERINGATAN BANJIR" not in client.get("/api/alerts").get_data(as_text=True)
    feed("dmk-wl-01", {"water_cm": 155.0})
    client.get("/api/alerts")
    assert alert_events(kiosk_store) == [("alert", "water:dmk-wl-01"), ("alert_cleared", "water:dmk-wl-01"),
                                         ("alert", "water:dmk-wl-01")]  # fmt: skip
    event = kiosk_store.events(kind="alert")[0]
    assert (
        event["node"] == "dmk-wl-01" and event["data"]["value"] == 162.0 and event["data"]["limit"] == 150.0
    )


def test_power_loss_alert(client: FlaskClient, kiosk_store: Store, feed: Callable[..., None]) -> None:
    feed("dmk-pw-01", {"mains_v": 0.0})
    banner = client.get("/api/alerts").get_data(as_text=True)
    assert "LISTRIK PLN PADAM" in banner and "dmk-pw-01" in banner
    assert "Listrik PADAM" in client.get("/kondisi").get_data(as_text=True)
    feed("dmk-pw-01", {"mains_v": 223.0})
    assert "LISTRIK PLN PADAM" not in client.get("/api/alerts").get_data(as_text=True)
    assert alert_events(kiosk_store) == [("alert", "power:dmk-pw-01"), ("alert_cleared", "power:dmk-pw-01")]


def test_stale_readings_neither_raise_nor_clear(kiosk_store: Store, feed: Callable[..., None]) -> None:
    feed("dmk-wl-01", {"water_cm": 170.0}, at=db.now_ms() - 3600_000)
    assert evaluate(kiosk_store, LIMITS) == []
    feed("dmk-wl-01", {"water_cm": 170.0})
    assert [a.key for a in evaluate(kiosk_store, LIMITS)] == ["water:dmk-wl-01"]


def test_exactly_one_event_when_many_threads_evaluate(kiosk_store: Store, feed: Callable[..., None]) -> None:
    feed("dmk-wl-01", {"water_cm": 175.0})
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                evaluate(kiosk_store, LIMITS)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, name=f"evaluator-{i}") for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert alert_events(kiosk_store) == [("alert", "water:dmk-wl-01")]
    kiosk_store.close()  # the threads' connections


def test_english_banner(client: FlaskClient, feed: Callable[..., None]) -> None:
    feed("dmk-wl-01", {"water_cm": 190.0})
    client.set_cookie("lang", "en")
    assert "FLOOD WARNING" in client.get("/api/alerts").get_data(as_text=True)
