"""Completeness of sensor data: readings received against readings expected, per node and measurement, and
summed per kiosk or per producer (the OPD owning a node), per local day, week or month.

Expected readings of a (node, measurement) over a window: the part of the window from its first reading to now, divided by the node's interval (set at the central, else as its gateway reports it, else
``node_default_interval_s``). Received: the daily roll-ups' counts (:mod:`.rollup`), capped at the expected
count so that one over-eager node never hides another's gaps. Everything is computed in SQL over the daily
roll-ups and the series table, so that a month of 1,000 kiosks reads some 10^5 rows, never the readings.

Zones as the regencies' data-quality reports colour them: green at 90 % or more, yellow from 50 % to under
90 %, red under 50 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.central.fleet import settings
from sync.central.fleet.rollup import DAY_MS
from sync.central.fleet.tables import daily, nodes, series

PERIODS = ("day", "week", "month")
GROUPS = ("node", "kiosk", "producer")
# The days completeness is computed for: a window and its 30-day trend stay well inside what a date and a
# millisecond count can hold (year 1 minus 30 days, or the month after December 9999, do not exist).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)
GREEN, YELLOW = 90.0, 50.0


def zone(pct: float | None) -> str:
    """``green`` (≥ 90 %), ``yellow`` (50–89 %), ``red`` (< 50 %), or ``none`` when nothing was expected."""
    if pct is None:
        return "none"
    return "green" if pct >= GREEN else "yellow" if pct >= YELLOW else "red"


@dataclass(frozen=True)
class Window:
    """A period of local days: ``start_ms`` inclusive, ``end_ms`` exclusive (ms UTC), and its label."""

    period: str
    start_ms: int
    end_ms: int
    label: str


def local_date(ms: int) -> date:
    """The regency's local date at ``ms``."""
    return datetime.fromtimestamp((ms + settings.utc_offset_ms()) / 1000, UTC).date()


def day_start_ms(day: date) -> int:
    """The start of local ``day`` in ms UTC."""
    return (
        int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) - settings.utc_offset_ms()
    )


def window(period: str, day: date) -> Window:
    """The day, ISO week (Monday first) or month containing ``day``; ValueError for another period or a day
    outside :data:`FIRST_DAY` .. :data:`LAST_DAY`."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"the day is {FIRST_DAY} to {LAST_DAY}")
    if period == "day":
        first, last = day, day + timedelta(days=1)
        label = day.isoformat()
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
        label = f"{first.isocalendar()[0]}-W{first.isocalendar()[1]:02d}"
    elif period == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
        label = first.strftime("%Y-%m")
    else:
        raise ValueError(f"period is one of {PERIODS}")
    return Window(period, day_start_ms(first), day_start_ms(last), label)


def _interval(default_s: int) -> Any:
    """A series' reading interval in seconds: set at the central, else reported, else the default; a stored 0
    or negative value counts as unknown and the whole is NULL rather than 0 (NULLIF), so that no expected count
    ever divides by zero."""
    set_s, reported_s = nodes.c.interval_set_s, nodes.c.interval_s
    return sa.func.nullif(
        sa.func.coalesce(sa.case((set_s > 0, set_s)), sa.case((reported_s > 0, reported_s)), default_s), 0
    )


def _expected(start_ms: Any, end_ms: int, default_s: int) -> Any:
    """Expected readings of a series over [start_ms, end_ms) (start a SQL expression or a number)."""
    first = series.c.first_ms
    low = sa.case((first > start_ms, first), else_=start_ms)
    span = sa.case((low < end_ms, end_ms - low), else_=0)
    return sa.cast(span, sa.Float) / (sa.cast(_interval(default_s), sa.Float) * 1000.0)


def _series_rows(
    win: Window, now_ms: int, default_s: int, gateway_id: str | None, producer: str | None
) -> Any:
    """One row per series: gateway, node, name, producer, interval, expected, received (capped)."""
    received = (
        sa.select(daily.c.gateway_id, daily.c.node, daily.c.name, sa.func.sum(daily.c.n).label("n"))
        .where(daily.c.day_ms >= win.start_ms, daily.c.day_ms < win.end_ms)
        .group_by(daily.c.gateway_id, daily.c.node, daily.c.name)
    )
    if gateway_id:
        received = received.where(daily.c.gateway_id == gateway_id)
    got = received.subquery("got")
    expected = _expected(win.start_ms, min(win.end_ms, now_ms), default_s)
    count = sa.cast(sa.func.coalesce(got.c.n, 0), sa.Float)
    capped = sa.case((count > expected, expected), else_=count)
    query = (
        sa.select(
            series.c.gateway_id,
            series.c.node,
            series.c.name,
            sa.func.coalesce(nodes.c.producer, "").label("producer"),
            _interval(default_s).label("interval_s"),
            expected.label("expected"),
            capped.label("received"),
            count.label("count"),
        )  # fmt: skip
        .select_from(
            series.outerjoin(
                nodes, sa.and_(nodes.c.gateway_id == series.c.gateway_id, nodes.c.node == series.c.node)
            ).outerjoin(
                got,
                sa.and_(
                    got.c.gateway_id == series.c.gateway_id,
                    got.c.node == series.c.node,
                    got.c.name == series.c.name,
                ),
            )
        )  # fmt: skip
        .where(series.c.first_ms < min(win.end_ms, now_ms))
    )
    if gateway_id:
        query = query.where(series.c.gateway_id == gateway_id)
    if producer is not None:
        query = query.where(sa.func.coalesce(nodes.c.producer, "") == producer)
    return query


def report(
    conn: Connection,
    win: Window,
    now_ms: int,
    group: str = "node",
    *,
    gateway_id: str | None = None,
    producer: str | None = None,
    default_interval_s: int = 60,
) -> list[dict[str, Any]]:
    """Completeness over ``win`` grouped by ``group`` (:data:`GROUPS`), worst first.

    Rows: ``{"gateway", "node", "name", "producer", "interval_s", "expected", "received", "counted", "extra",
    "pct", "zone"}`` for ``node`` (one per node and measurement); ``{"gateway"|"producer", "series",
    "expected", "received", "counted", "extra", "pct", "zone"}`` otherwise. ``received`` is every reading
    stored; ``counted`` those that count (capped at the expected number per series), ``extra`` the rest
    (duplicates or more frames than the interval gives, never counted), both to one decimal like ``expected``;
    ``pct`` is ``counted`` over ``expected`` as the page shows them (:func:`_pct`), None when nothing was
    expected. ValueError for an unknown group.
    """
    rows = _series_rows(win, now_ms, default_interval_s, gateway_id, producer).subquery("s")
    if group == "node":
        query = sa.select(rows).order_by(rows.c.gateway_id, rows.c.node, rows.c.name)
        out = [
            {"gateway": r.gateway_id, "node": r.node, "name": r.name, "producer": r.producer,
             "interval_s": r.interval_s, **_figures(r.expected, r.received, r._mapping["count"])}
            for r in conn.execute(query)
        ]  # fmt: skip
    elif group in ("kiosk", "producer"):
        key = rows.c.gateway_id if group == "kiosk" else rows.c.producer
        query = sa.select(
            key.label("key"), sa.func.count().label("series"),
            sa.func.sum(rows.c.expected).label("expected"), sa.func.sum(rows.c.received).label("received"),
            sa.func.sum(rows.c.count).label("count"),
        ).group_by(key).order_by(key)  # fmt: skip
        name = "gateway" if group == "kiosk" else "producer"
        out = [
            {name: r.key, "series": r.series, **_figures(r.expected, r.received, r._mapping["count"])}
            for r in conn.execute(query)
        ]  # fmt: skip
    else:
        raise ValueError(f"group is one of {GROUPS}")
    out.sort(key=lambda row: (row["pct"] is None, row["pct"] if row["pct"] is not None else 0))
    return out


def _figures(expected: float | None, counted: float | None, received: float | None) -> dict[str, Any]:
    """A row's figures: ``expected``, ``received`` (every reading), ``counted`` (capped), ``extra`` (received
    beyond what counts) and the percentage with its zone, from the figures as shown (:func:`_pct`)."""
    shown = round(float(counted or 0), 1)
    return {"expected": expected, "received": received, "counted": shown,
            "extra": max(0.0, round(float(received or 0) - shown, 1)), **_pct(counted, expected)}  # fmt: skip


def _pct(received: float | None, expected: float | None) -> dict[str, Any]:
    """The completeness percentage (one decimal) and its zone, computed from received and expected rounded to
    one decimal, as the page shows them, so that a reader checking the division gets the shown percentage."""
    shown = None if expected is None else round(float(expected), 1)
    pct = None if not shown else round(100.0 * round(float(received or 0), 1) / shown, 1)
    return {"pct": pct, "zone": zone(pct)}


def trend(
    conn: Connection,
    days: list[date],
    now_ms: int,
    *,
    gateway_id: str | None = None,
    producer: str | None = None,
    default_interval_s: int = 60,
) -> list[dict[str, Any]]:
    """Completeness of each local day in ``days`` (all series, or a kiosk's, or a producer's): ``[{"day",
    "expected", "received", "pct", "zone"}]`` in the order given. Received counts are capped per series and
    day, as in :func:`report`."""
    if not days:
        return []
    starts = [day_start_ms(d) for d in days]
    day_list = sa.union_all(
        *[sa.select(sa.literal(s, sa.BigInteger).label("day_ms")) for s in starts]
    ).subquery("d")
    end = sa.case((day_list.c.day_ms + DAY_MS < now_ms, day_list.c.day_ms + DAY_MS), else_=now_ms)
    first = series.c.first_ms
    low = sa.case((first > day_list.c.day_ms, first), else_=day_list.c.day_ms)
    span = sa.case((low < end, end - low), else_=0)
    expected = sa.cast(span, sa.Float) / (sa.cast(_interval(default_interval_s), sa.Float) * 1000.0)
    # the days' roll-up rows, read once by the day index and hash-joined (not looked up row by row)
    got = (
        sa.select(daily.c.gateway_id, daily.c.node, daily.c.name, daily.c.day_ms, daily.c.n)
        .where(daily.c.day_ms >= min(starts), daily.c.day_ms <= max(starts))
        .subquery("got")
    )
    count = sa.cast(sa.func.coalesce(got.c.n, 0), sa.Float)
    capped = sa.case((count > expected, expected), else_=count)
    per_series = (
        sa.select(day_list.c.day_ms, expected.label("expected"), capped.label("received")).select_from(
            day_list.join(series, sa.true())
            .outerjoin(
                nodes, sa.and_(nodes.c.gateway_id == series.c.gateway_id, nodes.c.node == series.c.node)
            )
            .outerjoin(
                got,
                sa.and_(
                    got.c.gateway_id == series.c.gateway_id,
                    got.c.node == series.c.node,
                    got.c.name == series.c.name,
                    got.c.day_ms == day_list.c.day_ms,
                ),
            )
        )  # fmt: skip
    )
    if gateway_id:
        per_series = per_series.where(series.c.gateway_id == gateway_id)
    if producer is not None:
        per_series = per_series.where(sa.func.coalesce(nodes.c.producer, "") == producer)
    inner = per_series.subquery("p")
    totals = {
        r.day_ms: (r.expected, r.received)
        for r in conn.execute(
            sa.select(inner.c.day_ms, sa.func.sum(inner.c.expected).label("expected"),
                      sa.func.sum(inner.c.received).label("received")).group_by(inner.c.day_ms)
        )
    }  # fmt: skip
    out = []
    for day, start in zip(days, starts, strict=True):
        expected_n, received_n = totals.get(start, (0.0, 0.0))
        out.append({"day": day.isoformat(), "expected": expected_n, "received": received_n,
                    **_pct(received_n, expected_n)})  # fmt: skip
    return out


TREND_WINDOWS = {"day": 30, "week": 12, "month": 6}  # how many periods the trend chart shows, the last one's


def windows_back(period: str, day: date, count: int | None = None) -> list[Window]:
    """The ``count`` (default :data:`TREND_WINDOWS`) windows of ``period`` ending with the one that holds
    ``day``, oldest first; those before :data:`FIRST_DAY` are left out."""
    count = TREND_WINDOWS[period] if count is None else count
    out = [window(period, day)]
    while len(out) < count:
        before = _day_of(out[0].start_ms) - timedelta(days=1)
        if before < FIRST_DAY:
            break
        out.insert(0, window(period, before))
    return out


def _day_of(start_ms: int) -> date:
    """The local date a window starting at ``start_ms`` (a local midnight) begins on."""
    return local_date(start_ms)


def period_trend(
    conn: Connection,
    windows: list[Window],
    now_ms: int,
    *,
    gateway_id: str | None = None,
    producer: str | None = None,
    default_interval_s: int = 60,
) -> list[dict[str, Any]]:
    """Completeness of each of ``windows`` (days, weeks or months, as :func:`windows_back` makes them): ``[{"start"
    (the window's first local date, ISO), "expected", "received", "pct", "zone"}]`` in their order; the sums of
    :func:`trend`'s days (received capped per series and day)."""
    days: list[date] = []
    spans = []
    for win in windows:
        first, n = _day_of(win.start_ms), round((win.end_ms - win.start_ms) / DAY_MS)
        spans.append((first, len(days), len(days) + n))
        days += [first + timedelta(days=i) for i in range(n)]
    per_day = trend(conn, days, now_ms, gateway_id=gateway_id, producer=producer,
                    default_interval_s=default_interval_s)  # fmt: skip
    out = []
    for first, lo, hi in spans:
        expected_n = sum(r["expected"] for r in per_day[lo:hi])
        received_n = sum(r["received"] for r in per_day[lo:hi])
        out.append({"start": first.isoformat(), "expected": expected_n, "received": received_n,
                    **_pct(received_n, expected_n)})  # fmt: skip
    return out
