"""Hourly and daily roll-ups of readings, kept current as batches are stored.

A gateway's readings are rolled up by seq: every seq up to the stream's acknowledged seq is stored (or gone for
good), so the readings in ``(mark, acked]`` are counted exactly once, whatever order batches arrive in and
however often one is sent again. :func:`advance` runs in the transaction that stores a batch (after the acked
seq is known) and :func:`catch_up` for what came before the roll-ups existed; both hold the mark's row lock
(PostgreSQL ``FOR UPDATE``; SQLite writes one at a time anyway).

A reading's time is the central's (``true_ms``), or the gateway's clock when that was not known good
(``at_ms``): completeness counts every reading. Hours are UTC; days are the regency's local days
(:func:`sync.central.fleet.settings.utc_offset_ms`), each stored by its start in ms UTC.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from sync.central.db import readings
from sync.central.fleet import settings
from sync.central.fleet.tables import daily, hourly, marks, series

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
CHUNK = 200_000  # seqs rolled up per statement at most (a catch-up after an upgrade goes on in steps)


def _insert(conn: Connection, table: sa.Table) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _least(conn: Connection, a: Any, b: Any) -> Any:
    return sa.func.least(a, b) if conn.dialect.name == "postgresql" else sa.func.min(a, b)


def _greatest(conn: Connection, a: Any, b: Any) -> Any:
    return sa.func.greatest(a, b) if conn.dialect.name == "postgresql" else sa.func.max(a, b)


def reading_time() -> Any:
    """The SQL expression of a reading's time (ms UTC)."""
    return sa.func.coalesce(readings.c.true_ms, readings.c.at_ms)


def _mark(conn: Connection, gateway_id: str) -> int:
    query = sa.select(marks.c.seq).where(marks.c.gateway_id == gateway_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).scalar()
    if found is None:
        conn.execute(_insert(conn, marks).values(gateway_id=gateway_id, seq=0).on_conflict_do_nothing())
        found = conn.execute(query).scalar_one()
    return int(found)


def advance(conn: Connection, gateway_id: str, acked: int, chunk: int = CHUNK) -> int:
    """Roll up the gateway's readings above its mark up to ``acked`` (at most ``chunk`` seqs); answer the new
    mark. Runs in the caller's transaction."""
    low = _mark(conn, gateway_id)
    high = min(acked, low + chunk)
    if high <= low:
        return low
    in_range = (readings.c.gateway_id == gateway_id, readings.c.seq > low, readings.c.seq <= high)
    _roll(conn, hourly, hourly.c.hour_ms, (reading_time() // HOUR_MS) * HOUR_MS, in_range)
    offset = settings.utc_offset_ms()
    day = ((reading_time() + offset) // DAY_MS) * DAY_MS - offset
    _roll(conn, daily, daily.c.day_ms, day, in_range)
    _series(conn, in_range)
    conn.execute(marks.update().where(marks.c.gateway_id == gateway_id).values(seq=high))
    return high


def _roll(conn: Connection, table: sa.Table, period: sa.Column, start: Any, in_range: tuple) -> None:
    start = sa.cast(start, sa.BigInteger).label(period.name)
    figures = sa.select(
        readings.c.gateway_id, readings.c.node, readings.c.name, start,
        sa.func.count().label("n"), sa.func.sum(readings.c.value).label("total"),
        sa.func.min(readings.c.value).label("low"), sa.func.max(readings.c.value).label("high"),
    ).where(*in_range).group_by(readings.c.gateway_id, readings.c.node, readings.c.name, start)  # fmt: skip
    names = ["gateway_id", "node", "name", period.name, "n", "total", "low", "high"]
    insert = _insert(conn, table).from_select(names, figures)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["gateway_id", "node", "name", period.name],
            set_={
                "n": table.c.n + insert.excluded.n,
                "total": table.c.total + insert.excluded.total,
                "low": _least(conn, table.c.low, insert.excluded.low),
                "high": _greatest(conn, table.c.high, insert.excluded.high),
            },
        )
    )


def _series(conn: Connection, in_range: tuple) -> None:
    """First and last reading time, and the last value, of each (node, measurement) in the range."""
    at = reading_time()
    spans = (
        sa.select(
            readings.c.node, readings.c.name, sa.func.min(at).label("first"), sa.func.max(at).label("last")
        )
        .where(*in_range)
        .group_by(readings.c.node, readings.c.name)
        .subquery()
    )
    rows = conn.execute(
        sa.select(readings.c.gateway_id, readings.c.node, readings.c.name, spans.c.first, spans.c.last,
                  sa.func.max(readings.c.value))
        .join(spans, sa.and_(readings.c.node == spans.c.node, readings.c.name == spans.c.name, at == spans.c.last))
        .where(*in_range)
        .group_by(readings.c.gateway_id, readings.c.node, readings.c.name, spans.c.first, spans.c.last)
    ).all()  # fmt: skip
    for gateway_id, node, name, first, last, value in rows:
        insert = _insert(conn, series).values(
            gateway_id=gateway_id, node=node, name=name, first_ms=first, last_ms=last, last_value=value
        )
        newer = insert.excluded.last_ms >= series.c.last_ms
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["gateway_id", "node", "name"],
                set_={
                    "first_ms": _least(conn, series.c.first_ms, insert.excluded.first_ms),
                    "last_ms": _greatest(conn, series.c.last_ms, insert.excluded.last_ms),
                    "last_value": sa.case((newer, insert.excluded.last_value), else_=series.c.last_value),
                },
            )
        )


def catch_up(engine: Engine, gateway_id: str | None = None) -> int:
    """Roll up every gateway's (or one's) stored readings not yet rolled up; answer how many seqs were."""
    from sync.central.db import stream_state

    done = 0
    with engine.connect() as conn:
        query = sa.select(stream_state.c.gateway_id, stream_state.c.acked).where(
            stream_state.c.stream == "readings"
        )
        if gateway_id:
            query = query.where(stream_state.c.gateway_id == gateway_id)
        targets = conn.execute(query).all()
    for target, acked in targets:
        while True:
            with engine.begin() as conn:
                before = _mark(conn, target)
                after = advance(conn, target, int(acked))
            done += after - before
            if after >= acked:
                break
    return done
