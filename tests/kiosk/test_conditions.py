"""Local conditions, charts, and serta-merta alerts from the sensors (recorded once per crossing)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.store import Store, db
from kiosk.alerts import Thresholds, evaluate
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_browser import shot

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
    assert "Curah hujan" in page and "2,4" in page and "27,9" in page and "81" in page  # decimal commas
    client.get("/bahasa/en")
    english = client.get("/kondisi").get_data(as_text=True)
    assert "27.9" in english and "27,9" not in english
    client.get("/bahasa/id")
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


def test_a_chart_of_a_node_or_measurement_the_store_does_not_know_is_a_404(
    app: Flask, feed: Callable[..., None]
) -> None:
    """``/kondisi/grafik/nosuch/nosuch/24j.svg`` answered 200 "Data belum tersedia" and filled the chart cache
    with whatever keys anyone asked for: now a 404 (the kiosk's page), and nothing is cached."""
    feed("dmk-wl-01", {"water_cm": 131.5})
    client = app.test_client()
    for path in ("nosuch/nosuch", "nobody/water_cm", "dmk-wl-01/nosuch_cm", "dmk-wl-01/temp_c"):
        for span in ("24j", "7h"):
            response = client.get(f"/kondisi/grafik/{path}/{span}.svg")
            assert response.status_code == 404 and response.mimetype == "text/html", path
            assert '<html lang="id">' in response.get_data(as_text=True)
    assert app.extensions.get("anjungan_charts") is None or not app.extensions["anjungan_charts"]._charts
    assert client.get("/kondisi/grafik/dmk-wl-01/water_cm/24j.svg").status_code == 200


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
    banner = client.get("/api/alerts").get_data(
        as_text=True
    )  # and it never says the water is above the limit
    assert "Tinggi air 148 cm (batas siaga 150 cm)." in banner and "melewati" not in banner
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


POWER = {"mains_v": 221.0, "current_a": 1.234, "power_w": 240.0, "energy_wh": 15230.0, "freq_hz": 50.0,
         "power_factor": 0.92, "mains_ok": 1.0}  # fmt: skip
RAW_WORDS = {"distance", "current", "energy", "freq", "mains", "power", "factor", "ok"}


def reading_labels(page: str) -> list[str]:
    return re.findall(r'<span class="reading-label">([^<]+)</span>', page)


def test_environment_page_speaks_to_a_citizen(
    make_app: Callable[..., Flask], kiosk_store: Store, feed: Callable[..., None]
) -> None:
    app = make_app(KIOSK_NODE_LABELS={"dmk-wl-01": "Sungai Tuntang, Jembatan Wonosalam", "dmk-pw-01": "lama"})
    kiosk_store.apply_changes(  # what the central sends down wins over the gateway's file
        [{"kind": "config", "id": "kiosk.node_labels", "op": "upsert",
          "data": {"value": {"dmk-pw-01": "Kantor Kecamatan, panel listrik"}}}], "c1")  # fmt: skip
    feed("dmk-wl-01", {"water_cm": 85.0, "distance_cm": 215.0}, at=db.now_ms() - 3 * 60_000)
    feed("dmk-pw-01", POWER, at=db.now_ms() - 10 * 60_000)
    feed("dmk-xx-01", {"pm10_ugm3": 31.0, "tank_cm": 120.0}, at=db.now_ms() - 20 * 60_000)
    client = app.test_client()
    page = client.get("/kondisi").get_data(as_text=True)
    labels = reading_labels(page)
    assert len(labels) == 11
    for label in labels:
        assert not re.fullmatch(r"[a-z0-9_ ]+", label.strip()), label  # never a raw measurement name
        assert not set(label.lower().split()) & RAW_WORDS, label
    assert {"Tinggi muka air", "Jarak sensor ke permukaan air", "Faktor daya listrik", "Daya listrik terpakai",
            "Listrik PLN", "Debu di udara (pm10)", "Tinggi atau jarak (tank)"} <= set(labels)  # fmt: skip
    assert "µg/m³" in page and ">Menyala<" in page
    headings = re.findall(r'<h2 class="node-place">\s*([^<]+?)\s*<', page)
    assert headings[:2] == ["Sungai Tuntang, Jembatan Wonosalam", "Kantor Kecamatan, panel listrik"]
    assert "Sensor dmk-wl-01" not in page
    assert "Data terbaru diterima 3 menit yang lalu." in page  # the newest value on the page
    assert "Data terbaru: 10 menit yang lalu" in page  # per node

    client.set_cookie("lang", "en")
    english = client.get("/kondisi").get_data(as_text=True)
    en_labels = reading_labels(english)
    assert {"Water level", "Distance from the sensor to the water", "Power factor", "Power used",
            "Dust in the air (pm10)"} <= set(en_labels)  # fmt: skip
    assert "Newest data received 3 minutes ago." in english


def test_power_banner_names_the_place(make_app: Callable[..., Flask], feed: Callable[..., None]) -> None:
    app = make_app(KIOSK_NODE_LABELS={"dmk-pw-01": "Balai Desa Mrisen"})
    feed("dmk-pw-01", {"mains_v": 0.0})
    banner = app.test_client().get("/api/alerts").get_data(as_text=True)
    assert "Balai Desa Mrisen" in banner and "dmk-pw-01" not in banner


def test_water_chart_axis_holds_the_level_and_is_rounded(
    client: FlaskClient, feed: Callable[..., None]
) -> None:
    feed("dmk-wl-01", {"water_cm": 85.0}, history_hours=5)  # 85 cm with a 3 % wobble, limit 150 cm
    svg = client.get("/kondisi/grafik/dmk-wl-01/water_cm/24j.svg").get_data(as_text=True)
    axis = re.search(r'<g class="axis y[^"]*">(.*?)</g>\s*</g>', svg, re.S)
    assert axis
    ticks = re.findall(r"<text[^>]*>([^<]+)</text>", axis.group(1))
    assert all(re.fullmatch(r"-?\d+", t) for t in ticks), ticks  # water is shown in whole cm
    numbers = [float(t) for t in ticks]
    assert numbers[0] <= 85 * 0.97 and numbers[-1] >= 150


@pytest.fixture
def environment_server(
    make_app: Callable[..., Flask], kiosk_store: Store, feed: Callable[..., None]
) -> Iterator[LiveServer]:
    feed("dmk-wl-01", {"water_cm": 85.0, "distance_cm": 215.0}, history_hours=30)
    feed(
        "dmk-wx-01", {"rain_mm": 2.4, "temp_c": 27.9, "rh_pct": 81.0, "pressure_hpa": 1009.2}, history_hours=6
    )
    feed("dmk-pw-01", POWER, history_hours=6)
    labels = {"dmk-wl-01": "Sungai Tuntang, Jembatan Wonosalam", "dmk-wx-01": "Halaman Kantor Kecamatan",
              "dmk-pw-01": "Kantor Kecamatan, panel listrik"}  # fmt: skip
    with LiveServer(make_app(KIOSK_NODE_LABELS=labels)) as running:
        yield running


@pytest.mark.parametrize("lang", ["id", "en"])
def test_environment_page_in_chromium(environment_server: LiveServer, touch_page: Any, lang: str) -> None:
    page = touch_page
    page.goto(f"{environment_server.url}/bahasa/{lang}?kembali=/kondisi")
    page.wait_for_load_state("networkidle")
    images = page.locator(".measure img")
    assert images.count() >= 20
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.measure img')).every(i => i.naturalWidth > 0)"
    )
    labels = page.locator(".reading-label").all_text_contents()
    assert labels and not [t for t in labels if re.fullmatch(r"[a-z0-9_ ]+", t.strip())]
    assert page.locator(".node-place").first.text_content().strip().startswith("Sungai Tuntang")  # type: ignore[union-attr]
    assert page.locator("#newest").is_visible()
    shot(page, f"70-environment-{lang}")
    page.locator(".node").nth(2).scroll_into_view_if_needed()
    shot(page, f"71-environment-{lang}-power")


def test_rain_is_shown_as_the_last_hours_sum_and_charted_per_hour(
    client: FlaskClient, kiosk_store: Store, feed: Callable[..., None]
) -> None:
    """A rain reading is what fell since the node's frame before (a minute, or 5 s in the demo): the page showed
    the last one alone ("Curah hujan 0,3 mm" in a cloudburst). It shows the last hour's sum, and the charts
    what fell each hour (a 5-minute mean of per-frame amounts is no figure of rain)."""
    from kiosk import conditions

    now = db.now_ms()
    feed("dmk-wx-01", {"rain_mm": 10.0}, at=now - 2 * 3_600_000)  # two hours ago: not in the last hour
    for k in range(11, -1, -1):  # 12 frames 5 minutes apart, 0.5 mm each: 6 mm in the last hour
        feed("dmk-wx-01", {"rain_mm": 0.5, "temp_c": 25.0}, at=now - k * 300_000)
    page = client.get("/kondisi").get_data(as_text=True)
    block = page[page.index('data-name="rain_mm"') :][:400]
    assert "Curah hujan 1 jam terakhir" in block and "6,0" in block
    assert "Grafik Curah hujan per jam 24 jam terakhir" in page
    spec = conditions.chart_spec(kiosk_store, "dmk-wx-01", "rain_mm", "24j", None, "Asia/Jakarta")
    assert spec["title"] == "Curah hujan per jam"
    assert sum(value for _at, value in spec["points"]) == pytest.approx(16.0)
    assert all(at % 3_600_000 == 0 for at, _value in spec["points"])  # one point an hour
    temp = conditions.chart_spec(kiosk_store, "dmk-wx-01", "temp_c", "24j", None, "Asia/Jakarta")
    assert {value for _at, value in temp["points"]} == {25.0}  # other measurements: still 5-minute means
    client.get("/bahasa/en")
    english = client.get("/kondisi").get_data(as_text=True)
    assert "Rainfall in the last hour" in english and "6.0" in english
    assert "Rainfall per hour" in english  # (the charts' descriptions)
    svg = client.get("/kondisi/grafik/dmk-wx-01/rain_mm/24j.svg")
    assert svg.status_code == 200 and svg.headers["X-Kiosk-Chart"] == "drawn"


def test_rain_unheard_for_an_hour_is_no_data_and_a_future_stamp_does_not_count(
    client: FlaskClient, kiosk_store: Store, feed: Callable[..., None]
) -> None:
    """A rain gauge last heard 30 hours ago is not "0,0 mm in the last hour": it is no data. A reading stamped
    in the future (the clock was stepped back since) is not counted in the last hour, as the chart leaves it out."""
    now = db.now_ms()
    feed("dmk-wx-01", {"rain_mm": 7.5}, at=now - 30 * 3_600_000)
    page = client.get("/kondisi").get_data(as_text=True)
    block = page[page.index('data-name="rain_mm"') :][:500]
    assert "—" in block and "tidak ada data 1 jam terakhir" in block and "0,0" not in block
    feed("dmk-wx-02", {"rain_mm": 3.0}, at=now + 5 * 3_600_000)  # the future
    feed("dmk-wx-02", {"rain_mm": 0.2}, at=now - 60_000)
    assert kiosk_store.total_since("dmk-wx-02", "rain_mm", now - 3_600_000, now) == pytest.approx(0.2)
    assert kiosk_store.total_since("dmk-wx-02", "rain_mm", now - 3_600_000 - 300_000, now - 3_600_000) is None
