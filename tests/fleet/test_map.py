"""The map: slippy-map tile numbers as the OpenStreetMap wiki defines them, tiles drawn under the points only
when a tile URL is configured (and then allowed by the page's Content-Security-Policy), nothing from outside
otherwise."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask

from gateway.errors import ConfigError
from sync.central.fleet import mapsvg
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import alerts
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import logged_in, post
from tests.fleet.conftest import reading

SVG = "{http://www.w3.org/2000/svg}"
TILE_URL = "https://tile.example/{z}/{x}/{y}.png"
DEMAK = [(-6.8940, 110.6380), (-6.9700, 110.5200), (-6.8100, 110.7100)]  # kiosks of one regency


def test_tile_numbers_as_the_osm_wiki_gives_them() -> None:
    # "X goes from 0 (left edge is 180 °W) to 2^zoom - 1 (right edge is 180 °E); Y goes from 0 (top edge is
    # 85.0511 °N) to 2^zoom - 1 (bottom edge is 85.0511 °S)"; zoom 0 is one tile for the world
    for zoom in (0, 1, 5, 12, 18):
        last = 2**zoom - 1
        assert mapsvg.tile_of(85.0511, -180.0, zoom) == (0, 0)
        assert mapsvg.tile_of(-85.0511, 179.99999, zoom) == (last, last)
        assert mapsvg.tile_of(0.0, 0.0, zoom) == (2**zoom // 2, 2**zoom // 2)
    # tile 10/486/332 spans 9.140625-8.7890625° W, 53.12040528310657-53.33087298301705° N (its upper-left
    # corner is (-9.140625, 53.33087298301705): the worked example of the wiki's tile-to-lon./lat. formulas and of
    # mercantile's documentation); its parent at zoom 9 is 243/166
    assert mapsvg.tile_of(53.2, -9.0, 10) == (486, 332)
    assert mapsvg.tile_of(53.2, -9.0, 9) == (243, 166)
    fx, fy = mapsvg.world(53.33087298301705, -9.140625)
    assert math.isclose(fx * 2**10, 486, abs_tol=1e-9) and math.isclose(fy * 2**10, 332, abs_tol=1e-9)
    assert mapsvg.tile_of(53.12040528310657 + 1e-9, -8.7890625 - 1e-9, 10) == (486, 332)
    assert mapsvg.tile_of(53.12040528310657 - 1e-9, -8.7890625 + 1e-9, 10) == (487, 333)
    # a tile of zoom n is 360/2^n degrees wide (the wiki's "Zoom levels" table)
    assert mapsvg.tile_of(0.0, -180 + 360 / 2**12 * 7.5, 12)[0] == 7


def _spots() -> list[dict]:
    return [{"label": f"k{i}", "lat": lat, "lon": lon, "kind": "kiosk", "state": "ok", "href": f"#k{i}"}
            for i, (lat, lon) in enumerate(DEMAK)]  # fmt: skip


def test_no_tile_and_no_outside_address_without_the_setting() -> None:
    svg = mapsvg.render(_spots(), "Peta")
    assert "<image" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert 'class="graticule"' in svg
    ET.fromstring(svg)  # well-formed
    labels = re.findall(r">(-?[\d.,]+)°</text>", svg)  # the latitudes as the page's language writes them
    assert labels and all("," in label and "." not in label for label in labels), labels
    english = re.findall(r">(-?[\d.,]+)°</text>", mapsvg.render(_spots(), "Map", lang="en"))
    assert english == [label.replace(",", ".") for label in labels]


def test_tiles_under_the_points_at_their_web_mercator_places() -> None:
    tiles = mapsvg.Tiles(TILE_URL, "© OpenStreetMap contributors")
    svg = mapsvg.render(_spots(), "Peta", tiles)
    root = ET.fromstring(svg)
    images = root.findall(f"{SVG}g[@class='tiles']/{SVG}image")
    found, zooms = {}, set()
    for image in images:
        z, x, y = map(
            int, re.fullmatch(r"https://tile\.example/(\d+)/(\d+)/(\d+)\.png", image.get("href", "")).groups()
        )
        found[(x, y)] = (float(image.get("x")), float(image.get("y")))
        zooms.add(z)
        assert (image.get("width"), image.get("height")) == ("256", "256")
    (zoom,) = zooms
    # the zoom is the largest at which the points fit inside the map's margins
    xs = [mapsvg.world(lat, lon)[0] for lat, lon in DEMAK]
    ys = [mapsvg.world(lat, lon)[1] for lat, lon in DEMAK]
    fits = [z for z in range(19) if (max(xs) - min(xs)) * 256 * 2**z <= mapsvg.WIDTH - 2 * mapsvg.PAD
            and (max(ys) - min(ys)) * 256 * 2**z <= mapsvg.HEIGHT - 2 * mapsvg.PAD]  # fmt: skip
    assert zoom == max(fits) == 11
    # each point is drawn inside the tile the wiki's formula gives for it, at its place within that tile
    marks = [
        (float(r.get("x")) + 6, float(r.get("y")) + 6)
        for r in root.iter(f"{SVG}rect")
        if r.get("width") == "12"
    ]
    assert len(marks) == len(DEMAK)
    for (lat, lon), (px, py) in zip(DEMAK, marks, strict=True):
        tx, ty = mapsvg.tile_of(lat, lon, zoom)
        left, top = found[(tx, ty)]
        fx, fy = mapsvg.world(lat, lon)
        assert math.isclose(px - left, (fx * 2**zoom - tx) * 256, abs_tol=0.1)
        assert math.isclose(py - top, (fy * 2**zoom - ty) * 256, abs_tol=0.1)
    # the tiles cover the whole map, each once, adjacent tiles 256 apart
    assert min(x for x, _y in found.values()) <= 0 and min(y for _x, y in found.values()) <= 0
    assert max(x for x, _y in found.values()) + 256 >= mapsvg.WIDTH
    assert max(y for _x, y in found.values()) + 256 >= mapsvg.HEIGHT
    assert len(images) == len(found)
    for (tx, ty), (x, _y) in found.items():
        if (tx + 1, ty) in found:
            assert math.isclose(found[(tx + 1, ty)][0] - x, 256)
    assert root.find(f"{SVG}text[@class='attribution']").text == "© OpenStreetMap contributors"
    assert 'class="graticule"' not in svg


def test_the_tile_url_setting_is_checked() -> None:
    env = "ANJUNGAN_CENTRAL_SERVER_TILE_URL"
    assert FleetSettings.from_env({env: TILE_URL}).tile_url == TILE_URL
    assert FleetSettings.from_env({}).tile_url == ""
    for bad in ("tile.example/{z}/{x}/{y}.png", "https://tile.example/{z}/{x}.png", "https://t.example/{s}/{z}/{x}/{y}",
                "ftp://tile.example/{z}/{x}/{y}.png"):  # fmt: skip
        with pytest.raises(ConfigError, match=env):
            FleetSettings.from_env({env: bad})
    assert (
        mapsvg.Tiles("https://a.tile.example:8443/osm/{z}/{x}/{y}.png?k=1").origin
        == "https://a.tile.example:8443"
    )
    assert mapsvg.Tiles(TILE_URL).href(3, -1, 2) == "https://tile.example/3/7/2.png"  # x wraps at 180°


def _placed(app: Flask, gateway: Gateway, clock: Clock) -> object:
    at = int(clock() * 1000)
    records = [reading(i + 1, at, node=node) for i, node in enumerate(("dmk-wl-01", "dmk-wl-02"))]
    assert gateway.send("readings", records).status_code == 200
    tek = logged_in(app, "tek-budi", "teknisi")
    for node, (lat, lon) in zip(("", "dmk-wl-01", "dmk-wl-02"), DEMAK, strict=True):
        answer = post(tek, "/armada/tempat", {"gateway": gateway.id, "node": node, "label": f"Tempat {node or 'anjungan'}",
                                              "lat": str(lat), "lon": str(lon)}, page="/armada")  # fmt: skip
        assert answer.status_code == 302
    return tek


def test_the_fleet_page_draws_tiles_only_when_configured(
    app: Flask, gateway: Gateway, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tek = _placed(app, gateway, clock)
    for path in ("/armada", "/armada/peta.svg", f"/armada/anjungan/{gateway.id}"):
        answer = tek.get(path)
        body = answer.get_data(as_text=True)
        assert "<image" not in body and "tile.example" not in body, path
        assert "img-src 'self' data:;" in answer.headers["Content-Security-Policy"], path
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_TILE_URL", TILE_URL)
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_TILE_ATTRIBUTION", "© OpenStreetMap contributors")
    for path in ("/armada", "/armada/peta.svg", f"/armada/anjungan/{gateway.id}"):
        answer = tek.get(path)
        body = answer.get_data(as_text=True)
        assert re.search(r'<image href="https://tile\.example/11/\d+/\d+\.png"', body), path
        assert "© OpenStreetMap contributors" in body
        policy = answer.headers["Content-Security-Policy"]
        assert "img-src 'self' data: https://tile.example;" in policy and "script-src 'none'" in policy, path
    page = tek.get("/armada").get_data(as_text=True)
    assert page.count('<a href="#kiosk-') == 3  # the points link to their kiosk's row on the page
    standalone = tek.get("/armada/peta.svg").get_data(as_text=True)
    assert standalone.count(f'<a href="/armada/anjungan/{gateway.id}"') == 3


def test_a_node_is_red_on_the_map_only_for_its_own_alert(app: Flask, gateway: Gateway, clock: Clock) -> None:
    tek = _placed(app, gateway, clock)
    with central_of(app).engine.begin() as conn:
        conn.execute(alerts.insert().values(key="node-reboots/x", kind="node-reboots", gateway_id=gateway.id,
                                            node="dmk-wl-01", state="open", started_ms=1, opened_ms=1, detail="{}"))  # fmt: skip
    svg = tek.get("/armada/peta.svg").get_data(as_text=True)
    assert '<g class="spot node alert"><title>dmk-wl-01 · ' in svg
    assert '<g class="spot node ok"><title>dmk-wl-02 · ' in svg
