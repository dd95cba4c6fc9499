"""Local conditions: what each measurement means for a citizen, node freshness, and cached SVG charts (pygal).

Measurement names carry their unit as a suffix (the node frame contract); the ones a kiosk expects get a
human label, any other is shown by its name and unit.

"Now" is the store's clock (``store.clock``). The latest readings are the newest by each node's own order
(the writer keeps them so), never by wall-clock stamps; a reading whose arrival stamp lies in the future (the
wall clock was stepped back since) has an unknown age and is shown as not current.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from gateway.store.health import age_s

# name -> (label, unit shown, decimals); order = order on the page
MEASUREMENTS: dict[str, tuple[Any, str, int]] = {
    "water_cm": (_l("Tinggi muka air"), "cm", 0),
    "rain_mm": (_l("Curah hujan"), "mm", 1),
    "temp_c": (_l("Suhu udara"), "°C", 1),
    "rh_pct": (_l("Kelembapan udara"), "%", 0),
    "pressure_hpa": (_l("Tekanan udara"), "hPa", 0),
    "mains_v": (_l("Tegangan listrik PLN"), "V", 0),
    "bat_v": (_l("Tegangan baterai"), "V", 2),
}
UNITS = {"c": "°C", "pct": "%", "cm": "cm", "mm": "mm", "v": "V", "a": "A", "w": "W", "wh": "Wh", "hz": "Hz",
         "hpa": "hPa", "ugm3": "µg/m³"}  # fmt: skip
RANGES = {"24j": 24 * 3600 * 1000, "7h": 7 * 24 * 3600 * 1000}
HOUR_MS = 3600 * 1000
_SCRIPT_RE = re.compile(r"<script\b.*?</script>", re.S | re.I)


def describe(name: str) -> tuple[Any, str, int]:
    if name in MEASUREMENTS:
        return MEASUREMENTS[name]
    base, _, suffix = name.rpartition("_")
    return (base.replace("_", " ") or name, UNITS.get(suffix, ""), 1)


def order_key(name: str) -> tuple[int, str]:
    names = list(MEASUREMENTS)
    return (names.index(name) if name in names else len(names), name)


def node_groups(store: Any, stale_ms: int) -> list[dict[str, Any]]:
    """Per node: its id, kind, last seen, freshness and latest readings (sorted, described).

    ``last_at`` is when the node's last frame arrived (its ``last_seen``; the newest of its readings' stamps
    when the node is not registered); ``age_min`` is None when that stamp lies in the future (the wall clock
    was stepped back since: the age is unknown), and such a node is not ``fresh``.
    """
    now = store.clock.now_ms()
    nodes = {n["node"]: n for n in store.nodes()}
    groups: dict[str, dict[str, Any]] = {}
    for reading in store.latest():
        node = reading["node"]
        group = groups.setdefault(node, {"node": node, "kind": (nodes.get(node) or {}).get("kind"),
                                         "readings": [], "last_at": 0})  # fmt: skip
        label, unit, decimals = describe(reading["name"])
        group["readings"].append({**reading, "label": label, "unit": unit, "decimals": decimals})
        last_seen = (nodes.get(node) or {}).get("last_seen")  # the arrival of its last frame
        group["last_at"] = last_seen if last_seen is not None else max(group["last_at"], reading["at"])
    for group in groups.values():
        group["readings"].sort(key=lambda r: order_key(r["name"]))
        age = age_s(group["last_at"], now)
        group["fresh"] = age is not None and age * 1000 <= stale_ms
        group["age_min"] = None if age is None else age // 60
    return sorted(groups.values(), key=lambda g: (order_key(g["readings"][0]["name"]), g["node"]))


def _hourly(points: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """Hourly means of 5-minute aggregates (a 7-day chart needs no more)."""
    buckets: dict[int, tuple[float, int]] = {}
    for p in points:
        hour = p["at"] // HOUR_MS * HOUR_MS
        total, count = buckets.get(hour, (0.0, 0))
        buckets[hour] = (total + p["mean"] * p["n"], count + p["n"])
    return [(hour, total / count) for hour, (total, count) in sorted(buckets.items()) if count]


def render_chart(store: Any, node: str, name: str, span: str, limit: float | None = None) -> bytes:
    """An SVG line chart of one measurement over the span ("24j" or "7h")."""
    import pygal
    from pygal.style import Style

    now = store.clock.now_ms()
    points = [p for p in store.series(node, name, now - RANGES[span]) if p["at"] <= now]  # not the future
    values = _hourly(points) if span == "7h" else [(p["at"], p["mean"]) for p in points]
    label, unit, _decimals = describe(name)
    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a",
                  foreground_strong="#1a1a1a", foreground_subtle="#595959", colors=("#0b4f9c", "#b00020"),
                  font_family="sans-serif", label_font_size=14, major_label_font_size=14,
                  value_font_size=14, title_font_size=16)  # fmt: skip
    chart = pygal.DateTimeLine(
        width=520, height=240, style=style, show_dots=False, show_legend=limit is not None, legend_at_bottom=True,
        js=[], disable_xml_declaration=False, x_label_rotation=0, truncate_label=-1, stroke_style={"width": 3},
        x_value_formatter=(lambda d: d.strftime("%H:%M")) if span == "24j" else (lambda d: d.strftime("%d/%m")),
        y_title=unit, no_data_text=str(_l("Belum ada data")), show_x_guides=False, margin=8,
    )  # fmt: skip
    chart.add(str(label), [(datetime.fromtimestamp(at / 1000), value) for at, value in values])
    if limit is not None and values:
        ends = [values[0][0], values[-1][0]]
        chart.add(str(_l("Batas siaga")), [(datetime.fromtimestamp(at / 1000), limit) for at in ends])
    svg = chart.render(is_unicode=True)
    return _SCRIPT_RE.sub("", svg).encode()  # pygal's inline config script: not needed without its JS


class ChartCache:
    """Rendered charts, kept ``ttl`` seconds (rendering one takes tens of milliseconds on a Pi)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charts: dict[tuple[Any, ...], tuple[float, bytes]] = {}

    def get(self, key: tuple[Any, ...], ttl: float, make: Callable[[], bytes]) -> bytes:
        now = time.monotonic()
        with self._lock:
            hit = self._charts.get(key)
            if hit and hit[0] > now:
                return hit[1]
        svg = make()
        with self._lock:
            if len(self._charts) > 256:
                self._charts.clear()
            self._charts[key] = (now + ttl, svg)
        return svg
