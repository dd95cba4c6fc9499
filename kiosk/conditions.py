"""Local conditions: what each measurement means for a citizen, where each node is, how fresh its data is, and
the charts (rendered by :mod:`kiosk.charts` in the bounded render worker).

Names and units come from the unit-suffix vocabulary of the node frame contract
(:class:`gateway.vocabulary.UnitSuffix`: ``_c``, ``_pct``, ``_cm``, ...): the measurements the
project's nodes send have their own name in Bahasa Indonesia and English (:data:`MEASUREMENTS`); any other one
is named by the quantity its suffix carries (:data:`UNITS`), so nothing is ever shown as a raw English name.

A node is shown by its place: ``[kiosk] node_labels`` in the gateway's configuration (a table ``node id =
"place"``), overridden per node by what the central sends down as the configuration item
``kiosk.node_labels`` (a ``config`` change with ``{"value": {node id: place}}``).

"Now" is the store's clock (``store.clock``). The latest readings are the newest by each node's own order
(the writer keeps them so), never by wall-clock stamps; a reading whose arrival stamp lies in the future (the
wall clock was stepped back since) has an unknown age and is shown as not current.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cachetools import TLRUCache
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from gateway.store import Store
from gateway.store.health import age_s
from gateway.vocabulary import SUMMED_MEASUREMENTS, UNIT_SYMBOLS, UnitSuffix

RANGES = {"24j": 24 * 3600 * 1000, "7h": 7 * 24 * 3600 * 1000}
HOUR_MS = 3600 * 1000
CHARTS_KEPT = 256  # rendered charts kept at most (the least recently used one goes first)


@dataclass(frozen=True)
class Measure:
    """How a measurement is shown: its name (lazy, translated), unit symbol, decimals; charted or not."""

    label: Any
    unit: str
    decimals: int
    chart: bool = True
    on_off: bool = False  # 1 = on, 0 = off (e.g. mains_ok)
    # readings that add up (SUMMED_MEASUREMENTS: rain): shown as the last hour's sum, charted as hourly sums,
    # labelled ``summed_label`` / ``chart_label`` (a reading alone is what fell since the node's last frame)
    summed_label: Any = None
    chart_label: Any = None


# unit suffix -> (the quantity it measures, decimals)
_QUANTITIES: dict[str, tuple[Any, int]] = {
    UnitSuffix.C: (_l("Suhu"), 1),
    UnitSuffix.PCT: (_l("Persentase"), 0),
    UnitSuffix.CM: (_l("Tinggi atau jarak"), 0),
    UnitSuffix.MM: (_l("Curah hujan"), 1),
    UnitSuffix.V: (_l("Tegangan listrik"), 1),
    UnitSuffix.A: (_l("Arus listrik"), 2),
    UnitSuffix.W: (_l("Daya listrik"), 0),
    UnitSuffix.WH: (_l("Energi listrik"), 0),
    UnitSuffix.HZ: (_l("Frekuensi listrik"), 1),
    UnitSuffix.HPA: (_l("Tekanan udara"), 0),
    UnitSuffix.UGM3: (_l("Debu di udara"), 0),
}
# unit suffix -> (unit symbol, the quantity it measures, decimals): the frame contract's unit vocabulary
UNITS: dict[str, tuple[str, Any, int]] = {
    suffix: (UNIT_SYMBOLS[suffix], quantity, decimals) for suffix, (quantity, decimals) in _QUANTITIES.items()
}

# The measurements of the project's nodes (firmware/); order = order on the page.
MEASUREMENTS: dict[str, Measure] = {
    "water_cm": Measure(_l("Tinggi muka air"), "cm", 0),
    "rain_mm": Measure(
        _l("Curah hujan"),
        "mm",
        1,
        summed_label=_l("Curah hujan 1 jam terakhir"),
        chart_label=_l("Curah hujan per jam"),
    ),  # fmt: skip
    "temp_c": Measure(_l("Suhu udara"), "°C", 1),
    "rh_pct": Measure(_l("Kelembapan udara"), "%", 0),
    "pressure_hpa": Measure(_l("Tekanan udara"), "hPa", 0),
    "pm25_ugm3": Measure(_l("Debu halus (PM2,5)"), "µg/m³", 0),
    "mains_ok": Measure(_l("Listrik PLN"), "", 0, chart=False, on_off=True),
    "mains_v": Measure(_l("Tegangan listrik PLN"), "V", 0),
    "current_a": Measure(_l("Arus listrik terpakai"), "A", 2),
    "power_w": Measure(_l("Daya listrik terpakai"), "W", 0),
    "energy_wh": Measure(_l("Energi listrik terpakai (total)"), "Wh", 0),
    "freq_hz": Measure(_l("Frekuensi listrik"), "Hz", 1),
    "power_factor": Measure(_l("Faktor daya listrik"), "", 2),
    "distance_cm": Measure(_l("Jarak sensor ke permukaan air"), "cm", 0),
    "bat_v": Measure(_l("Tegangan baterai sensor"), "V", 2, chart=False),
}

# A node without a configured place is named by what it measures.
KIND_NAMES = {
    "water-level": _l("Sensor tinggi muka air"),
    "weather": _l("Stasiun cuaca"),
    "power": _l("Sensor listrik PLN"),
}


def describe(name: str) -> Measure:
    """How measurement ``name`` is shown: its own entry, else the quantity and unit of its suffix."""
    if name in MEASUREMENTS:
        return MEASUREMENTS[name]
    base, _, suffix = name.rpartition("_")
    if base and suffix in UNITS:
        unit, quantity, decimals = UNITS[suffix]
        return Measure(_Joined(quantity, base.replace("_", " ")), unit, decimals)
    return Measure(name.replace("_", " "), "", 2)


class _Joined:
    """A lazy "Quantity (name)" label, translated when shown."""

    def __init__(self, quantity: Any, detail: str):
        self.quantity, self.detail = quantity, detail

    def __str__(self) -> str:
        return f"{self.quantity} ({self.detail})"

    def __html__(self) -> str:
        return str(escape(str(self)))


def order_key(name: str) -> tuple[int, str]:
    names = list(MEASUREMENTS)
    return (names.index(name) if name in names else len(names), name)


def node_labels(store: Store, configured: Mapping[str, Any] | None) -> dict[str, str]:
    """Place of each node: the gateway's ``[kiosk] node_labels``, then the central's ``kiosk.node_labels``."""
    labels = {str(k): str(v) for k, v in (configured or {}).items() if isinstance(v, str) and v.strip()}
    sent = store.config_overrides().get("kiosk", {}).get("node_labels")
    if isinstance(sent, dict):
        labels.update({str(k): str(v) for k, v in sent.items() if isinstance(v, str) and v.strip()})
    return labels


def age_text(age_ms: int | None) -> str:
    """How long ago, in words of the current language ("3 menit yang lalu", "3 minutes ago"); None (a stamp
    in the future: the wall clock was stepped back since) is an unknown age."""
    if age_ms is None:
        return str(_l("waktu tidak diketahui"))
    if age_ms < 60_000:
        return str(_l("kurang dari 1 menit yang lalu"))
    return str(format_timedelta(timedelta(milliseconds=-age_ms), threshold=1.5, add_direction=True))


def node_groups(store: Store, stale_ms: int, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Per node: id, place (or a name from its kind), freshness, age of its newest value, described readings.

    ``last_at`` is when the node's last frame arrived (its ``last_seen``; the newest of its readings' stamps
    when the node is not registered); ``age_min`` is None when that stamp lies in the future (the wall clock
    was stepped back since: the age is unknown), and such a node is not ``fresh``.
    """
    now = store.clock.now_ms()
    nodes = {n["node"]: n for n in store.nodes()}
    labels = labels or {}
    groups: dict[str, dict[str, Any]] = {}
    for reading in store.latest():
        node = reading["node"]
        row = nodes.get(node)
        kind = row["kind"] if row else None
        group = groups.setdefault(node, {"node": node, "kind": kind, "readings": [], "last_at": 0,
                                         "place": labels.get(node) or KIND_NAMES.get(kind or "")})  # fmt: skip
        measure = describe(reading["name"])
        shown = {**reading, "label": measure.label, "chart_label": measure.chart_label or measure.label}
        if reading["name"] in SUMMED_MEASUREMENTS:  # the last hour's sum: one reading is a minute's rain
            # None ("—"): nothing heard in the last hour is not "no rain"
            shown["value"] = store.total_since(node, reading["name"], now - HOUR_MS, now)
            shown["label"] = measure.summed_label or measure.label
        group["readings"].append({**shown, "unit": measure.unit, "decimals": measure.decimals,
                                  "chart": measure.chart, "on_off": measure.on_off})  # fmt: skip
        last_seen = row["last_seen"] if row else None  # the arrival of its last frame
        group["last_at"] = last_seen if last_seen is not None else max(group["last_at"], reading["at"])
    for group in groups.values():
        group["readings"].sort(key=lambda r: order_key(r["name"]))
        age = age_s(group["last_at"], now)
        group["fresh"] = age is not None and age * 1000 <= stale_ms
        group["age_min"] = None if age is None else age // 60
        group["age_ms"] = None if age is None else age * 1000
        group["age_text"] = age_text(group["age_ms"])
    return sorted(groups.values(), key=lambda g: (order_key(g["readings"][0]["name"]), g["node"]))


def newest_age(groups: list[dict[str, Any]]) -> str | None:
    """The age of the newest value on the page, in words; None when there is none."""
    if not groups:
        return None
    known = [g["age_ms"] for g in groups if g["age_ms"] is not None]
    return age_text(min(known) if known else None)


def _hourly(points: Sequence[Mapping[str, Any]], *, summed: bool = False) -> list[tuple[int, float]]:
    """Hourly means of 5-minute aggregates (a 7-day chart needs no more); hourly sums when ``summed``."""
    buckets: dict[int, tuple[float, int]] = {}
    for p in points:
        hour = p["at"] // HOUR_MS * HOUR_MS
        total, count = buckets.get(hour, (0.0, 0))
        buckets[hour] = (total + p["mean"] * p["n"], count + p["n"])
    return [
        (hour, total if summed else total / count)
        for hour, (total, count) in sorted(buckets.items())
        if count
    ]


def chart_spec(store: Store, node: str, name: str, span: str, limit: float | None, tz: str) -> dict[str, Any]:
    """The plain data of one chart (for :func:`kiosk.charts.render_svg`): series, names, range, limit."""
    until = store.clock.now_ms()
    since = until - RANGES[span]
    points = [p for p in store.series(node, name, since) if p["at"] <= until]  # not the future
    measure = describe(name)
    # what fell each hour, for rain (a 5-minute mean of per-frame amounts means nothing)
    if name in SUMMED_MEASUREMENTS:
        values = _hourly(points, summed=True)
    else:
        values = _hourly(points) if span == "7h" else [(p["at"], p["mean"]) for p in points]
    return {
        "title": str(measure.chart_label or measure.label), "unit": measure.unit, "decimals": measure.decimals,
        "span": span,
        "points": [[at, value] for at, value in values], "since": since, "until": until, "limit": limit,
        "limit_title": str(_l("Batas siaga")), "no_data": str(_l("Data belum tersedia")), "tz": tz,
    }  # fmt: skip


def _chart_until(_key: tuple[Any, ...], entry: tuple[float, tuple[bytes, bool]], now: float) -> float:
    return now + entry[0]


class ChartCache:
    """Rendered charts, kept ``ttl`` seconds (a chart that could not be drawn is kept as long: it is not
    tried again on every request).

    A cachetools ``TLRUCache`` (each entry with its own life, at most :data:`CHARTS_KEPT` of them) under a
    lock; a chart is made outside the lock, so that a slow chart never holds up the others.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charts: TLRUCache[tuple[Any, ...], tuple[float, tuple[bytes, bool]], float] = TLRUCache(
            CHARTS_KEPT, _chart_until, time.monotonic
        )

    def get(
        self,
        key: tuple[Any, ...],
        ttl: float,
        make: Callable[[], tuple[bytes, bool]],
        failed_ttl: float = 60.0,
    ) -> tuple[bytes, bool]:
        """``(svg, drawn)`` for ``key``: cached, or made by ``make`` (kept ``failed_ttl`` s when not drawn)."""
        with self._lock:
            hit = self._charts.get(key)
        if hit is not None:
            return hit[1]
        value = make()
        with self._lock:
            self._charts[key] = (ttl if value[1] else max(ttl, failed_ttl), value)
        return value
