"""Exports: every stored reading or submission as plain rows (``anjungan central export``), streamed from
one read snapshot a page at a time, so that memory does not grow with the tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.vocabulary import SubmissionStatus
from sync.central import db
from sync.central.db import STREAM_TABLES, content, submissions
from sync.central.service.formats import iso_utc


@contextmanager
def _exporting(engine: Engine) -> Iterator[Connection]:
    """A read snapshot for an export: never the write lock (SQLite), no statement timeout (PostgreSQL, where
    rows are fetched from a server-side cursor a page at a time, however slowly the output is read)."""
    with db.reading(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        yield conn


def export_readings(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every stored reading as ``{"gateway", "node", "boot", "seq", "name", "value", "received_at"}``.

    ``seq`` is the node frame's q; ``received_at`` is the corrected time when known, else the gateway's.
    Streams: rows are fetched a page at a time in one read snapshot (memory does not grow with the table, and
    gateways' batches are stored meanwhile).
    """
    table = STREAM_TABLES["readings"]
    query = sa.select(table).order_by(table.c.gateway_id, table.c.seq)
    with _exporting(engine) as conn:
        for row in conn.execution_options(yield_per=5000).execute(query).mappings():
            yield {
                "gateway": row["gateway_id"],
                "node": row["node"],
                "boot": row["boot"],
                "seq": row["q"],
                "name": row["name"],
                "value": row["value"],
                "received_at": iso_utc(row["true_ms"] if row["clock_ok"] else row["at_ms"]),
            }


def export_submissions(engine: Engine, include_personal: bool = False) -> Iterator[dict[str, Any]]:
    """Every submission with its current status; personal data only when asked for. Streams like
    :func:`export_readings` (each submission's status is joined in, not held in memory)."""
    status = content.alias("status")
    query = (
        sa.select(submissions, status.c.data.label("status_data"))
        .select_from(
            submissions.outerjoin(
                status,
                sa.and_(
                    status.c.scope == submissions.c.gateway_id,
                    status.c.kind == "submission",
                    status.c.item_id == submissions.c.number,
                    status.c.op == "upsert",
                ),
            )
        )
        .order_by(submissions.c.gateway_id, submissions.c.seq)
    )
    with _exporting(engine) as conn:
        for sub in conn.execution_options(yield_per=2000).execute(query).mappings():
            state = json.loads(sub["status_data"]) if sub["status_data"] else {}
            out = {
                "gateway": sub["gateway_id"],
                "seq": sub["seq"],
                "uuid": sub["uuid"],
                "number": sub["number"],
                "kind": sub["kind"],
                "submitted_at": iso_utc(sub["true_ms"] if sub["clock_ok"] else sub["at_ms"]),
                "due_date": state.get("due_date") or sub["due_date"],
                "status": state.get("status", SubmissionStatus.RECEIVED),
                "answer": state.get("answer"),
                "public": json.loads(sub["public"]),
            }
            if include_personal:
                out["personal"] = None if sub["personal"] is None else json.loads(sub["personal"])
            yield out
