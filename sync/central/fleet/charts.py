"""Sensor aggregates per node and measurement (hour, day, month) from the roll-ups, and the fleet's charts:
pygal SVG rendered at the central and embedded as data URIs (no script, no outside address)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.central import numbers
from sync.central.fleet import completeness, settings
from sync.central.fleet.rollup import DAY_MS, HOUR_MS
from sync.central.fleet.tables import daily, hourly

PERIODS = {"hour": 48, "day": 60, "month": 24}  # how many of each the chart shows, up to now


def aggregates(
    conn: Connection, gateway_id: str, node: str, name: str, period: str, now_ms: int
) -> list[dict[str, Any]]:
    """``[{"start_ms", "label", "count", "sum", "mean", "min", "max"}]`` of one measurement, oldest first
    (``count``: the number of readings; ``sum``: their total, in the measurement's unit): the last 48
    hours (UTC hours, labelled in local time), 60 local days or 24 local months up to ``now_ms``. KeyError for
    another period."""
    count = PERIODS[period]
    key = (gateway_id, node, name)
    if period == "hour":
        table, column, since = hourly, hourly.c.hour_ms, (now_ms // HOUR_MS - count + 1) * HOUR_MS
    else:
        first_day = completeness.local_date(now_ms)
        if period == "day":
            since = completeness.day_start_ms(first_day) - (count - 1) * DAY_MS
        else:
            month, year = first_day.month - (count - 1), first_day.year
            while month < 1:
                month, year = month + 12, year - 1
            since = completeness.day_start_ms(first_day.replace(year=year, month=month, day=1))
        table, column = daily, daily.c.day_ms
    rows = conn.execute(
        sa.select(column, table.c.n, table.c.total, table.c.low, table.c.high)
        .where(table.c.gateway_id == key[0], table.c.node == key[1], table.c.name == key[2], column >= since)
        .order_by(column)
    ).all()
    buckets: dict[str, dict[str, Any]] = {}
    for start, n, total, low, high in rows:
        label = _label(start, period)
        b = buckets.setdefault(label, {"start_ms": start, "label": label, "count": 0, "total": 0.0, "min": low,
                                       "max": high})  # fmt: skip
        b["count"] += n
        b["total"] += total
        b["min"], b["max"] = min(b["min"], low), max(b["max"], high)
    return [
        {"start_ms": b["start_ms"], "label": b["label"], "count": b["count"], "sum": round(b["total"], 3),
         "mean": round(b["total"] / b["count"], 3), "min": b["min"], "max": b["max"]}
        for b in buckets.values()
    ]  # fmt: skip


def _label(start_ms: int, period: str) -> str:
    local = datetime.fromtimestamp((start_ms + settings.utc_offset_ms()) / 1000, UTC)
    return local.strftime({"hour": "%d/%m %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}[period])


def _style() -> Any:
    import pygal

    return pygal.style.Style(background="white", plot_background="white", font_family="DejaVu Sans",
                             colors=("#1565c0", "#90a4ae", "#c62828", "#2e7d32"))  # fmt: skip


def _uri(chart: Any) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(chart.render()).decode()


def sensor_chart(
    rows: list[dict[str, Any]],
    title: str,
    lang: str = "id",
    decimals: int = 3,
    series: tuple[str, str, str] = ("rata-rata", "min", "maks"),
) -> str:
    """A line chart (mean, min, max: ``series`` names them in the page's language) of :func:`aggregates` rows
    as a data URI; its numbers as ``lang`` writes them (``12,5``), to ``decimals`` decimals."""
    import pygal

    chart = pygal.Line(style=_style(), width=860, height=360, title=title, js=[], x_label_rotation=40,
                       show_minor_x_labels=False, show_dots=len(rows) < 80,
                       value_formatter=lambda v: numbers.number(v, lang, decimals))  # fmt: skip
    chart.x_labels = [r["label"] for r in rows]
    chart.x_labels_major = [r["label"] for r in rows[:: max(1, len(rows) // 12)]]
    for name, key in zip(series, ("mean", "min", "max"), strict=True):
        chart.add(name, [r[key] for r in rows])
    return _uri(chart)


def trend_chart(rows: list[dict[str, Any]], title: str, lang: str = "id") -> str:
    """A line chart of completeness per period (:func:`completeness.period_trend` rows, each with its
    ``label`` as people read it), with the zones' bounds; percentages as ``lang`` writes them."""
    import pygal

    chart = pygal.Line(style=_style(), width=860, height=320, title=title, js=[], range=(0, 100), x_label_rotation=40,
                       show_minor_x_labels=False, value_formatter=lambda v: numbers.number(v, lang, 1))  # fmt: skip
    chart.x_labels = [r["label"] for r in rows]
    chart.x_labels_major = [r["label"] for r in rows[:: max(1, len(rows) // 10)]]
    chart.add("%", [r["pct"] for r in rows])
    chart.add("50 %", [50] * len(rows), show_dots=False, stroke_style={"dasharray": "4, 4"})
    chart.add("90 %", [90] * len(rows), show_dots=False, stroke_style={"dasharray": "4, 4"})
    return _uri(chart)
