"""Storing a gateway's batch (the uplink): at most once per (gateway, stream, seq), in one transaction, and
the acknowledged seq that the answer carries (the highest seq reached with no gap, DESIGN.md).

What a batch may claim is checked in :mod:`.ownership`; its records become table columns in :mod:`.columns`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync import protocol
from sync.central.db import STREAM_TABLES, stream_state
from sync.central.errors import RecordsRejected
from sync.central.fleet import ingest as fleet_ingest
from sync.central.service.columns import insert_columns, stream_columns
from sync.central.service.formats import now_ms
from sync.central.service.gateways import touch_gateway
from sync.central.service.ownership import foreign_identities, reused_seqs

_WALK_PAGE = 5000


def store_batch(engine: Engine, gateway_id: str, batch: protocol.Batch, at_ms: int | None = None) -> dict:
    """Store a batch at most once per (gateway, stream, seq) and answer ``{"stream", "acked"}`` after commit.

    Raises :class:`RecordsRejected` (nothing stored) when any record is malformed.
    """
    rejected = protocol.batch_problems(batch)
    if rejected:
        raise RecordsRejected(batch.stream, rejected)
    table = STREAM_TABLES[batch.stream]
    columns = stream_columns(gateway_id, batch)
    seqs = columns["seq"]
    top, low = max(seqs, default=0), min(seqs, default=0)
    contiguous = bool(seqs) and len(seqs) == top - low + 1  # seqs are distinct: no gap in [low, top]
    at_ms = at_ms or now_ms()
    with engine.begin() as conn:
        acked = _lock_state(conn, gateway_id, batch.stream)
        refused = reused_seqs(conn, gateway_id, batch.stream, columns)
        refused.update(foreign_identities(conn, gateway_id, batch.stream, columns, at_ms))
        if refused:  # rolls back: nothing of the batch is stored
            raise RecordsRejected(batch.stream, [{"seq": k, "reason": v} for k, v in sorted(refused.items())])
        stored = insert_columns(conn, table, columns)
        if batch.after is not None and batch.after <= acked < top:
            acked = top  # every seq in (after, top] missing from the batch is gone for good
        elif contiguous and low <= acked + 1 <= top:
            acked = top  # the batch itself fills (acked, top]
        acked = _walk(conn, table, gateway_id, acked, top)
        conn.execute(
            stream_state.update()
            .where(stream_state.c.gateway_id == gateway_id, stream_state.c.stream == batch.stream)
            .values(acked=acked, stored=stream_state.c.stored + stored)
        )
        fleet_ingest.batch_stored(conn, gateway_id, batch, acked)
        touch_gateway(conn, gateway_id, at_ms, batch=True)
    return {"stream": batch.stream, "acked": acked}


def _lock_state(conn: Connection, gateway_id: str, stream: str) -> int:
    """The stream's acked seq, its row locked until commit (one batch per gateway and stream at a time)."""
    query = (
        sa.select(stream_state.c.acked)
        .where(stream_state.c.gateway_id == gateway_id, stream_state.c.stream == stream)
        .with_for_update()
    )
    acked = conn.execute(query).scalar()
    if acked is None:
        conn.execute(stream_state.insert().values(gateway_id=gateway_id, stream=stream, acked=0, stored=0))
        acked = conn.execute(query).scalar_one()
    return int(acked)


def _walk(conn: Connection, table: sa.Table, gateway_id: str, acked: int, top: int) -> int:
    """The highest seq above ``acked`` reached with no gap (``top``: the batch's highest seq, a likely answer)."""
    if top > acked:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.gateway_id == gateway_id, table.c.seq > acked, table.c.seq <= top)
        ).scalar_one()
        if count == top - acked:
            acked = top
    while True:
        seqs = (
            conn.execute(
                sa.select(table.c.seq)
                .where(table.c.gateway_id == gateway_id, table.c.seq > acked)
                .order_by(table.c.seq)
                .limit(_WALK_PAGE)
            )
            .scalars()
            .all()
        )
        for seq in seqs:
            if seq != acked + 1:
                return acked
            acked = seq
        if len(seqs) < _WALK_PAGE:
            return acked
