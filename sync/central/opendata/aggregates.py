"""Hourly, daily and monthly aggregates of sensor readings per node and measurement.

Only readings whose time is known (the gateway's clock was known good: ``clock_ok``, time ``true_ms``, the
central's clock) enter an aggregate: a period's figures never mix in readings stamped by a clock that may be
years off. Hours are computed in SQL (SQLite and PostgreSQL alike, integer division of milliseconds); days and
months are rolled up from the hours in the regency's local time (a fixed UTC offset, setting ``utc_offset_h``).

A row: ``{"node", "name", "period", "period_start", "gateway", "region_code", "producer", "unit", "count",
"mean", "min", "max", "sum"}``; ``period_start`` is ISO 8601 UTC (``2026-11-28T03:00:00Z``), the primary key is
(node, name, period_start) as the CKAN contract says (DESIGN.md, "open data at the central").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.central import measures
from sync.central.db import readings
from sync.central.opendata import satudata

HOUR_MS = 3_600_000
PERIODS = ("hour", "day", "month")
FIELDS = ("node", "name", "period", "period_start", "gateway", "region_code", "producer", "unit",
          "count", "mean", "min", "max", "sum")  # fmt: skip
PRIMARY_KEY = ("node", "name", "period_start")


@dataclass
class Bucket:
    """Running figures of one (node, name, period start): count, sum, min, max and the gateways seen."""

    count: int
    total: float
    low: float
    high: float
    gateways: set[str]

    def merge(self, other: Bucket) -> None:
        self.count += other.count
        self.total += other.total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.gateways |= other.gateways


def hourly(
    conn: Connection,
    *,
    gateway_id: str | None = None,
    node: str | None = None,
    name: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> dict[tuple[str, str, int], Bucket]:
    """Hourly buckets ``(node, name, hour start ms UTC) -> Bucket`` of the readings in [start_ms, end_ms)."""
    hour = (readings.c.true_ms // HOUR_MS).label("hour")
    query = (
        sa.select(
            readings.c.node,
            readings.c.name,
            readings.c.gateway_id,
            hour,
            sa.func.count(),
            sa.func.sum(readings.c.value),
            sa.func.min(readings.c.value),
            sa.func.max(readings.c.value),
        )
        .where(readings.c.clock_ok.is_(True), readings.c.true_ms.is_not(None))
        .group_by(readings.c.node, readings.c.name, readings.c.gateway_id, hour)
    )
    for column, wanted in (
        (readings.c.gateway_id, gateway_id),
        (readings.c.node, node),
        (readings.c.name, name),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    if start_ms is not None:
        query = query.where(readings.c.true_ms >= start_ms)
    if end_ms is not None:
        query = query.where(readings.c.true_ms < end_ms)
    buckets: dict[tuple[str, str, int], Bucket] = {}
    for node_id, measurement, gateway, hour_no, count, total, low, high in conn.execute(query):
        bucket = Bucket(int(count), float(total), float(low), float(high), {gateway})
        key = (node_id, measurement, int(hour_no) * HOUR_MS)
        if key in buckets:  # the same node id at two gateways: one series, as the primary key says
            buckets[key].merge(bucket)
        else:
            buckets[key] = bucket
    return buckets


def period_start(hour_ms: int, period: str, offset_h: int) -> int:
    """The start (ms UTC) of the hour, local day or local month (UTC offset ``offset_h``) holding ``hour_ms``."""
    if period == "hour":
        return hour_ms
    zone = timezone(timedelta(hours=offset_h))
    local = datetime.fromtimestamp(hour_ms / 1000, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        local = local.replace(day=1)
    return int(local.timestamp() * 1000)


def roll_up(
    buckets: dict[tuple[str, str, int], Bucket], period: str, offset_h: int
) -> dict[tuple[str, str, int], Bucket]:
    """Hourly buckets combined into ``period`` buckets (``hour`` answers them unchanged)."""
    if period == "hour":
        return buckets
    out: dict[tuple[str, str, int], Bucket] = {}
    for (node, name, hour_ms), bucket in sorted(buckets.items()):
        key = (node, name, period_start(hour_ms, period, offset_h))
        if key in out:
            out[key].merge(bucket)
        else:
            out[key] = Bucket(bucket.count, bucket.total, bucket.low, bucket.high, set(bucket.gateways))
    return out


def iso_utc_s(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_rows(
    buckets: dict[tuple[str, str, int], Bucket],
    period: str,
    place: Callable[[str, str], satudata.Place],
) -> Iterator[dict[str, Any]]:
    """Rows (the module's shape) of ``buckets``, ordered by node, name and period start; min, max and sum
    rounded to the measurement's precision, the mean to one decimal more (measures.rounded)."""
    for (node, name, start), bucket in sorted(buckets.items()):
        gateway = sorted(bucket.gateways)[0]
        where = place(gateway, node)
        yield {
            "node": node,
            "name": name,
            "period": period,
            "period_start": iso_utc_s(start),
            "gateway": ",".join(sorted(bucket.gateways)),
            "region_code": where.region_code,
            "producer": where.producer,
            "unit": satudata.unit_of(name),
            "count": bucket.count,
            "mean": measures.rounded(name, bucket.total / bucket.count, 1),
            "min": measures.rounded(name, bucket.low),
            "max": measures.rounded(name, bucket.high),
            "sum": measures.rounded(name, bucket.total),
        }


def aggregate_rows(
    conn: Connection,
    period: str,
    *,
    offset_h: int,
    default_producer: str,
    gateway_id: str | None = None,
    node: str | None = None,
    name: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[dict[str, Any]]:
    """The ``period`` aggregates (hour, day or month) of the readings in [start_ms, end_ms), as rows.

    ``start_ms``/``end_ms`` should fall on period starts, else the first and last periods are partial.
    """
    if period not in PERIODS:
        raise ValueError(f"a period is one of {', '.join(PERIODS)}")
    buckets = hourly(conn, gateway_id=gateway_id, node=node, name=name, start_ms=start_ms, end_ms=end_ms)
    place = satudata.place_lookup(conn, default_producer)
    return list(as_rows(roll_up(buckets, period, offset_h), period, place))


def touched_hours(conn: Connection, gateway_id: str, after_seq: int, through_seq: int) -> Iterable[int]:
    """The hour starts (ms UTC) holding the gateway's readings with seq in (after_seq, through_seq]."""
    hour = (readings.c.true_ms // HOUR_MS).label("hour")
    query = (
        sa.select(hour)
        .distinct()
        .where(
            readings.c.gateway_id == gateway_id,
            readings.c.seq > after_seq,
            readings.c.seq <= through_seq,
            readings.c.clock_ok.is_(True),
            readings.c.true_ms.is_not(None),
        )
    )
    return sorted(int(h) * HOUR_MS for (h,) in conn.execute(query))
