"""A map of the regency's kiosks and nodes as a plain SVG: points placed by their WGS 84 coordinates in the
Web-Mercator projection (EPSG:3857, as slippy-map tiles use it), fitted to the points, each linking to its
kiosk on the fleet page. No script, and by default no tile server: a graticule stands for the ground, so the
central's pages work with no internet.

When a tile URL template is configured (``ANJUNGAN_CENTRAL_SERVER_TILE_URL``, e.g.
``https://tile.example/{z}/{x}/{y}.png``), the standard slippy-map tiles are drawn under the points in the same
SVG: ``<image>`` elements of 256 x 256, at the largest zoom whose tiles show every point, numbered as the
OpenStreetMap wiki's "Slippy map tilenames" says (x from 0 at 180° W, y from 0 at 85.0511° N, 2^zoom of each;
x = (lon + 180) / 360 * 2^zoom, y = (1 - asinh(tan(lat)) / pi) / 2 * 2^zoom, rounded down). The browser fetches
them, never the central; with no template the SVG names no outside address at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from sync.central import numbers

WIDTH, HEIGHT, PAD = 720, 480, 40
COLOURS = {"ok": "#2e7d32", "alert": "#c62828", "silent": "#757575"}
TILE = 256  # pixels of a slippy-map tile
MAX_ZOOM = 18  # the usual deepest zoom of tile servers (the OSM wiki, "Zoom levels")
MAX_LAT = 85.0511287798066  # Web Mercator's edge: atan(sinh(pi)) in degrees
LABELLED_NODES = 40  # nodes are labelled on a map of at most this many points (else named on hover only)
MIN_SPAN = (
    0.01 / 360
)  # the narrowest view, as a fraction of the world (about 1 km): one point is not a street


def world(lat: float, lon: float) -> tuple[float, float]:
    """Where (``lat``, ``lon``) in degrees lies on the Web-Mercator square, as fractions 0..1 of its width from
    180° W and of its height from 85.0511° N (a latitude beyond that is taken at the edge)."""
    rad = math.radians(max(-MAX_LAT, min(MAX_LAT, lat)))
    return (lon + 180.0) / 360.0, (1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0


def tile_of(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """The slippy-map tile (x, y) holding (``lat``, ``lon``) at ``zoom`` (OSM wiki, "Slippy map tilenames",
    "Lon./lat. to tile numbers"); the east and south edges belong to the last tile."""
    n = 2**zoom
    fx, fy = world(lat, lon)
    return min(n - 1, max(0, math.floor(fx * n))), min(n - 1, max(0, math.floor(fy * n)))


def check_tile_url(url: str) -> str:
    """``url`` when it is an http(s) URL template naming ``{z}``, ``{x}`` and ``{y}`` and no other placeholder;
    ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        url.format(z=0, x=0, y=0)
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f"only {{z}}, {{x}} and {{y}} may stand in braces: {url!r}") from err
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ValueError(f"the tile URL lacks {', '.join(missing)}: {url!r}")
    return url


@dataclass(frozen=True)
class Tiles:
    """A slippy-map tile source: the URL template (:func:`check_tile_url`) and the attribution its licence asks
    for (drawn in the map's corner; "© OpenStreetMap contributors" for OSM's tiles)."""

    url: str
    attribution: str = ""

    def href(self, zoom: int, x: int, y: int) -> str:
        """The address of tile (``x``, ``y``) at ``zoom``; x wraps round the antimeridian."""
        return self.url.format(z=zoom, x=x % 2**zoom, y=y)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the tiles (for the page's Content-Security-Policy ``img-src``)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class View:
    """How the map's points land on the SVG: the world's width in SVG units (``scale``; 256 x 2^zoom when
    tiled) and the world position, in those units, of the SVG's centre (``cx``, ``cy``)."""

    scale: float
    cx: float
    cy: float
    zoom: int | None = None  # the tiles' zoom, when tiled

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        """SVG coordinates of (``lat``, ``lon``)."""
        fx, fy = world(lat, lon)
        return WIDTH / 2 + fx * self.scale - self.cx, HEIGHT / 2 + fy * self.scale - self.cy

    def tiles(self) -> list[tuple[int, int, float, float]]:
        """The tiles (x, y, SVG x, SVG y of their top-left corner) that cover the SVG at :attr:`zoom`, rows
        beyond the poles left out."""
        assert self.zoom is not None
        n = 2**self.zoom
        left, top = self.cx - WIDTH / 2, self.cy - HEIGHT / 2
        columns = range(math.floor(left / TILE), math.ceil((left + WIDTH) / TILE))
        rows = range(max(0, math.floor(top / TILE)), min(n, math.ceil((top + HEIGHT) / TILE)))
        return [(x, y, x * TILE - left, y * TILE - top) for y in rows for x in columns]


def fit(spots: list[dict[str, Any]], tiled: bool) -> View:
    """The view that shows every spot within the map less its margin (``PAD``): at the largest whole zoom
    (0..``MAX_ZOOM``) when ``tiled`` (tiles are drawn at their own size), at any scale otherwise."""
    corners = [world(s["lat"], s["lon"]) for s in spots]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    wide, high = max(max(xs) - min(xs), MIN_SPAN), max(max(ys) - min(ys), MIN_SPAN)
    scale = min((WIDTH - 2 * PAD) / wide, (HEIGHT - 2 * PAD) / high, TILE * 2**MAX_ZOOM)
    zoom = None
    if tiled:
        zoom = max(0, min(MAX_ZOOM, math.floor(math.log2(scale / TILE))))
        scale = TILE * 2**zoom
    mid_x, mid_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return View(scale, mid_x * scale, mid_y * scale, zoom)


def points(
    kiosks: list[dict[str, Any]], href: Callable[[str], str] = lambda gw: f"#kiosk-{gw}"
) -> list[dict[str, Any]]:
    """The placed kiosks and nodes of ``kiosks`` (as :mod:`.overview` gives them): ``{"label", "lat", "lon",
    "kind" (kiosk|node), "state" (ok|alert|silent), "href"}``; ``href`` makes a kiosk's link from its id."""
    out = []
    for kiosk in kiosks:
        state = "silent" if kiosk["silent"] else "alert" if kiosk["alerts"] else "ok"
        place = kiosk["place"]
        link = href(kiosk["gateway_id"])
        if place and place["lat"] is not None:
            out.append({"label": f"{kiosk['gateway_id']} · {place['label']}", "lat": place["lat"], "lon": place["lon"],
                        "kind": "kiosk", "state": state, "href": link})  # fmt: skip
        for node in kiosk["nodes"]:
            spot = node["place"]
            if spot and spot["lat"] is not None:
                out.append({"label": f"{node['node']} · {spot['label']}", "lat": spot["lat"], "lon": spot["lon"],
                            "kind": "node", "state": _node_state(node), "href": link})  # fmt: skip
    return out


def _node_state(node: dict[str, Any]) -> str:
    """A node's own state on the map: silent, or with an unresolved alert of its own, or ok (never its kiosk's)."""
    return "silent" if node["silent"] else "alert" if node.get("alerts") else "ok"


def render(spots: list[dict[str, Any]], title: str, tiles: Tiles | None = None, lang: str = "id") -> str:
    """The SVG element of ``spots`` (:func:`points`), with ``title`` as its accessible name; with ``tiles``,
    the slippy-map tiles under the points and their attribution, else a graticule whose latitudes are written
    as ``lang`` writes numbers (``-6,89°`` in Bahasa Indonesia, like the page's tables). Kiosks are labelled, nodes too on a map of at
    most :data:`LABELLED_NODES` points; every point names itself on hover. Every text is XML-escaped (the
    element may be placed in an HTML page as it is)."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label={quoteattr(title)} font-family="DejaVu Sans, sans-serif" '
            f'font-size="11"><title>{escape(title)}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#eef4f8"/>')  # fmt: skip
    if not spots:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">-</text></svg>'
    view = fit(spots, tiles is not None)
    parts = [head]
    if tiles is not None and view.zoom is not None:
        parts.append('<g class="tiles">')
        for column, row, left, top in view.tiles():
            parts.append(f'<image href={quoteattr(tiles.href(view.zoom, column, row))} x="{left:.1f}" y="{top:.1f}" '
                         f'width="{TILE}" height="{TILE}"/>')  # fmt: skip
        parts.append("</g>")
    else:
        parts.append(_graticule(spots, view, lang))
    for spot in sorted(spots, key=lambda s: s["kind"] == "kiosk"):
        x, y = view.xy(spot["lat"], spot["lon"])
        colour = COLOURS[spot["state"]]
        shape = (f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{colour}" stroke="#fff"/>'
                 if spot["kind"] == "kiosk" else
                 f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}" stroke="#fff"/>')  # fmt: skip
        label = escape(spot["label"])
        text = ""
        if spot["kind"] == "kiosk" or len(spots) <= LABELLED_NODES:
            # to the right of its point in the map's left half, to its left in the right half (not cut off)
            at = f'x="{x - 8:.1f}" text-anchor="end"' if x > WIDTH / 2 else f'x="{x + 8:.1f}"'
            text = f'<text {at} y="{y + 4:.1f}" stroke="#fff" stroke-width="3" paint-order="stroke">{label}</text>'
        parts.append(f'<a href={quoteattr(spot["href"])}><g class="spot {spot["kind"]} {spot["state"]}">'
                     f'<title>{label}</title>{shape}{text}</g></a>')  # fmt: skip
    if tiles is not None and tiles.attribution:
        parts.append(f'<text class="attribution" x="{WIDTH - 4}" y="{HEIGHT - 5}" text-anchor="end" font-size="10" '
                     f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(tiles.attribution)}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _graticule(spots: list[dict[str, Any]], view: View, lang: str) -> str:
    """Lines of latitude and longitude at a round step (0.01°, 0.1°, 1°, ...) across the map, latitudes labelled."""
    lats, lons = [s["lat"] for s in spots], [s["lon"] for s in spots]
    mid_lat, mid_lon = (max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2
    span = max(max(lats) - min(lats), (max(lons) - min(lons)) * math.cos(math.radians(mid_lat)), 0.01) * 1.15
    step = 10 ** math.floor(math.log10(span / 2))
    lines = []
    lat = math.floor((mid_lat - span) / step) * step
    while lat <= mid_lat + span:
        (x0, y), (x1, _y) = view.xy(lat, mid_lon - 2 * span), view.xy(lat, mid_lon + 2 * span)
        lines.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}"/>'
                     f'<text x="4" y="{y - 2:.1f}" fill="#90a4ae" stroke="none">'
                     f'{numbers.number(lat, lang, _digits(step), fixed=True)}°</text>')  # fmt: skip
        lat += step
    lon = math.floor((mid_lon - 2 * span) / step) * step
    while lon <= mid_lon + 2 * span:
        (x, y0), (_x, y1) = view.xy(mid_lat + span, lon), view.xy(mid_lat - span, lon)
        lines.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"/>')
        lon += step
    return f'<g class="graticule" stroke="#cfd8dc" stroke-width="1">{"".join(lines)}</g>'


def _digits(step: float) -> int:
    return max(0, -math.floor(math.log10(step)))
