"""The kiosk's conditions and alerts after the wall clock was corrected (a Pi has no RTC; NTP steps it).

The kiosk and the writer share an injected clock (tests/clocks.py): the system clock is never changed.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from gateway.config import Config
from gateway.frame import Frame
from gateway.store import Store
from tests.clocks import SteppedClock

YEAR_S = 365 * 86400


def water(qs: range, cm: float) -> list[Frame]:
    return [Frame("r", "dmk-wl-01", 3, q, {"water_cm": cm}) for q in qs]


def test_readings_after_a_clock_correction_are_shown_and_the_flood_warning_ends(
    make_app: Callable[..., Flask], cfg: Config
) -> None:
    stepped = SteppedClock(shift_s=YEAR_S)  # booted with the clock a year ahead
    client = make_app(KIOSK_CLOCK=stepped.system()).test_client()
    with Store.from_config(cfg, clock=stepped.system()) as store:
        store.writer().write(water(range(0, 3), 180.0))
        page = client.get("/kondisi").get_data(as_text=True)
        assert "180 <small>cm" in page and "SIAGA: di atas batas" in page
        assert "PERINGATAN BANJIR" in client.get("/api/alerts").get_data(as_text=True)

        stepped.step(-YEAR_S)  # NTP corrects the clock; no new reading yet: its age cannot be known
        page = client.get("/kondisi").get_data(as_text=True)
        assert "data lama: waktu tidak diketahui" in page and "aktif" not in page

        store.writer().write(water(range(3, 6), 20.0))  # the water went down
        page = client.get("/kondisi").get_data(as_text=True)
        assert "20 <small>cm" in page and "180 <small>cm" not in page
        assert "SIAGA: di atas batas" not in page and "aktif" in page
        assert "PERINGATAN BANJIR" not in client.get("/api/alerts").get_data(as_text=True)
        for path in ("/", "/kondisi"):
            assert "PERINGATAN BANJIR" not in client.get(path).get_data(as_text=True)
        kinds = [e["kind"] for e in store.events(limit=100) if e["kind"].startswith("alert")]
        assert kinds == ["alert", "alert_cleared"]
        chart = client.get("/kondisi/grafik/dmk-wl-01/water_cm/24j.svg").get_data(as_text=True)
        assert "<svg" in chart and "Tinggi muka air" in chart  # drawn from the readings of the past only
