"""The fleet's pages in a real Chromium, as a teknisi: the fleet with its map, alerts (acknowledged with the
button), completeness and a sensor chart. Screenshots in test-output/screenshots/fleet-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask

from sync.central.fleet import alerts
from sync.central.fleet.settings import FleetSettings
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import PASSWORD, add_officer
from tests.fixtures.wsgi import LiveServer
from tests.fleet.test_pages import setup_fleet

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def test_the_fleet_pages_in_chromium(app: Flask, gateway: Gateway, clock: Clock, chromium: Any) -> None:
    setup_fleet(app, gateway, clock)
    alerts.run(central_of(app).engine, int((clock() + 600) * 1000), FleetSettings())
    add_officer(app, "tek-budi", "teknisi")
    server = LiveServer(app)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#username", "tek-budi")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/armada.*"))
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert page.locator(".map img").evaluate("img => img.complete && img.naturalWidth > 0")
        page.screenshot(path=str(SHOTS / "fleet-armada.png"), full_page=True)
        page.goto(server.url + "/peringatan")
        page.click("#current button[type=submit]")
        page.wait_for_selector("#current .state-acknowledged")
        assert "tek-budi" in (page.text_content("#current") or "")
        page.screenshot(path=str(SHOTS / "fleet-peringatan.png"), full_page=True)
        page.goto(server.url + "/kelengkapan?kelompok=node")
        assert page.locator("#completeness .zone").count() >= 1
        page.screenshot(path=str(SHOTS / "fleet-kelengkapan.png"), full_page=True)
        page.goto(server.url + f"/grafik/{gateway.id}/dmk-wl-01/water_cm")
        assert page.locator(".charts img").evaluate("img => img.complete && img.naturalWidth > 0")
        page.screenshot(path=str(SHOTS / "fleet-grafik.png"), full_page=True)
    finally:
        context.close()
        server.stop()
