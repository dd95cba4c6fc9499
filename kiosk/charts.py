"""SVG line charts of one measurement (pygal), from plain data, with guarded inputs and an axis of our own.

pygal's scale computation loops forever when the plotted range is tiny next to the values (a near-constant
series such as hourly means of 0.92 that come out as 0.9200000000000002: its step underflows the float's
precision). So the chart never lets pygal choose the y axis: :func:`axis` drops values that are not finite
numbers, picks a range that holds every value drawn (and the alert limit), wide enough to be drawn, with
ticks on round numbers at the measurement's precision; pygal gets that range and those labels.

:func:`render_svg` takes only plain data (a JSON-able spec), so that it can run in the bounded render worker
(:mod:`kiosk.renderworker`): no store, no Flask, no translations here.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MAX_TICKS = 6
NICE_STEPS = (1.0, 2.0, 5.0)
# The smallest step relative to the values' magnitude: far above a float's precision (about 2e-16), so that
# no renderer can add a step to a position and get the same position back.
RELATIVE_STEP_MIN = 1e-9
MAX_POINTS = 5000
_SCRIPT_RE = re.compile(r"<script\b.*?</script>", re.S | re.I)


def finite_points(points: Iterable[Any]) -> list[tuple[int, float]]:
    """The (ms, value) pairs whose time is an int and whose value is a finite number; sorted by time.

    Booleans, strings, NaN and infinities are dropped (a store never holds them, but a chart must not trust
    that); at most :data:`MAX_POINTS` of the newest are kept.
    """
    out = []
    for point in points:
        try:
            at, value = point
        except (TypeError, ValueError):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or isinstance(at, bool):
            continue
        if not isinstance(at, int | float) or not math.isfinite(at) or not math.isfinite(value):
            continue
        out.append((int(at), float(value)))
    out.sort()
    return out[-MAX_POINTS:]


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    for base in NICE_STEPS:
        step = base * 10.0**exponent
        if step >= raw * (1 - 1e-12):
            return step
    return 10.0 ** (exponent + 1)


def axis(values: Iterable[float], decimals: int) -> tuple[float, float, list[float]] | None:
    """(low, high, ticks) of a y axis holding every finite value, ticks at the ``decimals`` precision.

    ``decimals`` is how many decimals the measurement is shown with (0 = whole units). The range is at least
    two steps wide (a constant or single value sits in the middle), every tick is a multiple of the step and
    the step is never finer than 10^-decimals nor than 1e-9 of the values' magnitude. None when there is no
    finite value or the values are too large to draw (beyond about 1e300).
    """
    finite = [float(v) for v in values if not isinstance(v, bool) and math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    magnitude = max(abs(low), abs(high))
    if magnitude > 1e300:
        return None
    resolution = 10.0 ** -max(0, min(decimals, 6))
    floor_step = max(resolution, magnitude * RELATIVE_STEP_MIN)
    step = max(_nice_step((high - low) / (MAX_TICKS - 1)) if high > low else 0.0, _nice_step(floor_step))
    first, last = math.floor(low / step), math.ceil(high / step)
    gap = 2 - (last - first)
    if gap > 0:  # at least two steps: a constant series sits between two ticks
        first, last = first - (gap + 1) // 2, last + gap // 2
    places = _places(step)
    ticks = [round(q * step, places) for q in range(first, last + 1)]
    while ticks[0] > low:  # float rounding of a tick: one step more
        ticks.insert(0, round(ticks[0] - step, places))
    while ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, places))
    return ticks[0], ticks[-1], ticks


def _places(step: float) -> int:
    """Decimals needed to write multiples of ``step`` (0.01 -> 2, 5 -> 0)."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) if 0 < step < 1 else 0


def tick_label(value: float, step: float) -> str:
    """A tick's text at the step's precision (``78.38823529`` never appears on an axis)."""
    return f"{value:.{_places(step)}f}"


def render_svg(spec: dict[str, Any]) -> str:
    """An SVG line chart from a plain spec; the text of a "no data" chart when nothing can be drawn.

    ``spec`` keys: ``title`` (series label), ``unit`` (y axis title), ``points`` ([[ms, value], ...]),
    ``decimals`` (precision of the measurement), ``since`` and ``until`` (ms, the x range), ``span`` ("24j"
    or "7h": the x label format), ``limit`` (optional alert line) with ``limit_title``, ``no_data`` (text),
    ``tz`` (IANA zone of the x labels).
    """
    import pygal
    from pygal.style import Style

    tz = ZoneInfo(str(spec.get("tz") or "Asia/Jakarta"))
    points = finite_points(spec.get("points") or [])
    raw_limit = spec.get("limit")
    limit_ok = (
        isinstance(raw_limit, int | float) and not isinstance(raw_limit, bool) and math.isfinite(raw_limit)
    )
    limit = float(raw_limit) if limit_ok else 0.0  # type: ignore[arg-type]
    drawn = [v for _at, v in points] + ([limit] if limit_ok and points else [])
    scale = axis(drawn, int(spec.get("decimals") or 0))
    if scale is None:
        return unavailable_svg(str(spec.get("no_data") or ""))
    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a",
                  foreground_strong="#1a1a1a", foreground_subtle="#595959", colors=("#0b4f9c", "#b00020"),
                  font_family="sans-serif", label_font_size=14, major_label_font_size=14,
                  value_font_size=14, title_font_size=16)  # fmt: skip
    since, until = int(spec["since"]), int(spec["until"])
    fmt = "%H:%M" if spec.get("span") == "24j" else "%d/%m"
    low, high, ticks = scale
    step = ticks[1] - ticks[0]
    y_labels = [{"value": t, "label": tick_label(t, step)} for t in ticks]
    chart = pygal.DateTimeLine(
        width=520, height=240, style=style, show_dots=len(points) == 1, dots_size=4,
        show_legend=bool(limit_ok and points), legend_at_bottom=True, js=[], disable_xml_declaration=False,
        x_label_rotation=0, truncate_label=-1, stroke_style={"width": 3}, y_title=str(spec.get("unit") or ""),
        x_value_formatter=lambda d: d.astimezone(tz).strftime(fmt), x_labels=_x_labels(since, until, spec, tz),
        xrange=(_moment(since), _moment(until)), no_data_text=str(spec.get("no_data") or ""),
        show_x_guides=False, margin=8, range=(low, high), y_labels=y_labels, y_labels_major_every=1,
    )  # fmt: skip
    chart.add(str(spec.get("title") or ""), [(_moment(at), value) for at, value in points])
    if limit_ok:
        chart.add(str(spec.get("limit_title") or ""), [(_moment(since), limit), (_moment(until), limit)])
    svg = chart.render(is_unicode=True)
    return _SCRIPT_RE.sub("", svg)  # pygal's inline config script: not needed without its JS


def unavailable_svg(text: str) -> str:
    """A plain chart-sized SVG carrying one line of text (no pygal involved)."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="520" height="240" viewBox="0 0 520 240">'
        '<rect width="520" height="240" fill="#ffffff"/>'
        '<text x="260" y="126" font-family="sans-serif" font-size="22" fill="#4a4a4a" text-anchor="middle">'
        f"{html.escape(text)}</text></svg>"
    )


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _x_labels(since: int, until: int, spec: dict[str, Any], tz: ZoneInfo) -> list[datetime]:
    """Round local hours (every 6 h over a day) or local midnights (over a week) inside the x range."""
    every = timedelta(hours=6) if spec.get("span") == "24j" else timedelta(days=1)
    start = _moment(since).astimezone(tz)
    if every == timedelta(days=1):
        first = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = (start + timedelta(hours=6 - start.hour % 6)).replace(minute=0, second=0, microsecond=0)
    labels: list[datetime] = []
    moment = first
    while moment.timestamp() * 1000 <= until and len(labels) < 10:
        labels.append(moment)
        moment += every
    return labels
