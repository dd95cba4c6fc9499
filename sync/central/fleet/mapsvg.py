"""A map of the regency's kiosks and nodes as a plain SVG: points placed by their coordinates on an
equirectangular projection fitted to the points, with a graticule and labels. No tile server is needed (the
kiosk's and the central's pages work with no internet); each point links to its kiosk on the fleet page."""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT, PAD = 720, 480, 40
COLOURS = {"ok": "#2e7d32", "alert": "#c62828", "silent": "#757575"}


def points(kiosks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The placed kiosks and nodes: ``{"label", "lat", "lon", "kind" (kiosk|node), "state", "href"}``."""
    out = []
    for kiosk in kiosks:
        state = "silent" if kiosk["silent"] else "alert" if kiosk["alerts"] else "ok"
        place = kiosk["place"]
        if place and place["lat"] is not None:
            out.append({"label": f"{kiosk['gateway_id']} · {place['label']}", "lat": place["lat"], "lon": place["lon"],
                        "kind": "kiosk", "state": state, "href": f"#kiosk-{kiosk['gateway_id']}"})  # fmt: skip
        for node in kiosk["nodes"]:
            spot = node["place"]
            if spot and spot["lat"] is not None:
                out.append({"label": f"{node['node']} · {spot['label']}", "lat": spot["lat"], "lon": spot["lon"],
                            "kind": "node", "state": "silent" if node["silent"] else state,
                            "href": f"#kiosk-{kiosk['gateway_id']}"})  # fmt: skip
    return out


def render(spots: list[dict[str, Any]], title: str) -> str:
    """The SVG document of ``spots`` (:func:`points`), with ``title`` as its accessible name."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label={quoteattr(title)} font-family="DejaVu Sans, sans-serif" font-size="11">'
            f'<title>{escape(title)}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#eef4f8"/>')  # fmt: skip
    if not spots:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">-</text></svg>'
    lats, lons = [s["lat"] for s in spots], [s["lon"] for s in spots]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    span = max(north - south, (east - west) * math.cos(math.radians((north + south) / 2)), 0.01) * 1.15
    mid_lat, mid_lon = (north + south) / 2, (east + west) / 2
    cos = math.cos(math.radians(mid_lat))
    scale = min(WIDTH - 2 * PAD, HEIGHT - 2 * PAD) / span

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return WIDTH / 2 + (lon - mid_lon) * cos * scale, HEIGHT / 2 - (lat - mid_lat) * scale

    parts = [head, _graticule(span, mid_lat, mid_lon, xy)]
    for spot in sorted(spots, key=lambda s: s["kind"] == "kiosk"):
        x, y = xy(spot["lat"], spot["lon"])
        colour = COLOURS[spot["state"]]
        shape = (f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{colour}" stroke="#fff"/>'
                 if spot["kind"] == "kiosk" else
                 f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}" stroke="#fff"/>')  # fmt: skip
        label = escape(spot["label"])
        parts.append(f'<a href={quoteattr(spot["href"])}><g class="spot {spot["kind"]} {spot["state"]}">'
                     f'<title>{label}</title>{shape}<text x="{x + 8:.1f}" y="{y + 4:.1f}">{label}</text></g></a>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _graticule(span: float, mid_lat: float, mid_lon: float, xy: Any) -> str:
    step = 10 ** math.floor(math.log10(span / 2))
    lines = []
    half = span
    lat = math.floor((mid_lat - half) / step) * step
    while lat <= mid_lat + half:
        (x0, y), (x1, _y) = xy(lat, mid_lon - 2 * half), xy(lat, mid_lon + 2 * half)
        lines.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}"/>'
                     f'<text x="4" y="{y - 2:.1f}" fill="#90a4ae">{lat:.{_digits(step)}f}°</text>')  # fmt: skip
        lat += step
    lon = math.floor((mid_lon - 2 * half) / step) * step
    while lon <= mid_lon + 2 * half:
        (x, y0), (_x, y1) = xy(mid_lat + half, lon), xy(mid_lat - half, lon)
        lines.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"/>')
        lon += step
    return f'<g stroke="#cfd8dc" stroke-width="1">{"".join(lines)}</g>'


def _digits(step: float) -> int:
    return max(0, -math.floor(math.log10(step)))
