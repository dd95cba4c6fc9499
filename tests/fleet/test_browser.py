"""The fleet's pages in a real Chromium, as a teknisi: the fleet with its map, alerts (acknowledged with the
button), completeness and a sensor chart, nothing asked of any other address; with a tile URL configured, the
map's tiles fetched by the browser from that tile server. Screenshots in test-output/screenshots/fleet-*.png."""

from __future__ import annotations

import http.server
import re
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from sync.central.backoffice import audit
from sync.central.fleet import alerts, places
from sync.central.fleet.settings import FleetSettings
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import PASSWORD, add_officer
from tests.fixtures.wsgi import LiveServer
from tests.fleet.test_pages import setup_fleet

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def test_the_fleet_pages_in_chromium(app: Flask, gateway: Gateway, clock: Clock, chromium: Any) -> None:
    setup_fleet(app, gateway, clock)
    _place(app, gateway, clock)
    alerts.run(central_of(app).engine, int((clock() + 600) * 1000), FleetSettings())
    add_officer(app, "tek-budi", "teknisi")
    server = LiveServer(app)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    asked: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: asked.append(request.url))
        _login(page, server.url)
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert page.locator(".map svg").evaluate("svg => svg.getBoundingClientRect().width") == 720
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
    assert asked and [url for url in asked if not url.startswith(server.url + "/")] == []


def _place(app: Flask, gateway: Gateway, clock: Clock) -> None:
    engine, at = central_of(app).engine, int(clock() * 1000)
    who = audit.Actor("tek-budi", "teknisi")
    places.set_place(engine, gateway.id, "", "Balai Desa Wonosalam", -6.8940, 110.6380, who, at)
    places.set_place(engine, gateway.id, "dmk-wl-01", "Jembatan Tuntang", -6.9700, 110.5200, who, at)


def _login(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.fill("#username", "tek-budi")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/armada.*"))


def _png() -> bytes:
    """A 1 x 1 light-green PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xc8\xe6\xc9"))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """A slippy-map tile server on a free loopback port: any /tiles/<z>/<x>/<y>.png is a PNG; it keeps the paths
    asked for."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.changed = threading.Condition()
        owner, body = self, _png()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
                self.send_response(200 if re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", self.path) else 404)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with owner.changed:
                    owner.paths.add(self.path)
                    owner.changed.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="tile-server")
        self.thread.start()

    def wait_for(self, paths: set[str], timeout: float = 30.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: paths <= self.paths, timeout)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(30)


def test_the_browser_fetches_the_configured_tiles(
    app: Flask, gateway: Gateway, clock: Clock, chromium: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_fleet(app, gateway, clock)
    _place(app, gateway, clock)
    add_officer(app, "tek-budi", "teknisi")
    tiles, server = TileServer(), LiveServer(app)
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_TILE_URL", tiles.url + "/tiles/{z}/{x}/{y}.png")
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        page = context.new_page()
        _login(page, server.url)
        hrefs = page.eval_on_selector_all(
            ".map svg image", "images => images.map(i => i.getAttribute('href'))"
        )
        assert hrefs and all(h.startswith(tiles.url + "/tiles/") for h in hrefs)
        assert tiles.wait_for({h.removeprefix(tiles.url) for h in hrefs}), sorted(tiles.paths)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".map").screenshot(path=str(SHOTS / "fleet-peta-ubin.png"))
    finally:
        context.close()
        server.stop()
        tiles.stop()
