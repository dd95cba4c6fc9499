"""What the central keeps of a gateway's health reports and of its nodes' hello frames.

- :func:`record_report`: the ``X-Anjungan-Health`` and ``X-Anjungan-Nodes`` headers of a changes request
  (sync/protocol/reports.py); an older gateway sends neither and nothing is recorded.
- :func:`batch_stored`: in the transaction that stores a batch, the readings' roll-ups advance
  (:mod:`.rollup`) and each hello event updates its node's firmware, memory, RSSI, battery and boot (only when
  it is newer than what is kept, so that a batch sent again changes nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from sync import protocol
from sync.central.fleet import rollup
from sync.central.fleet.tables import health, nodes

# A hello event's field -> (nodes column, the key of its sane range in protocol.RANGES)
_HELLO = {"boot": ("boot", "boot"), "mem_free": ("mem_free", "mem"), "rssi": ("rssi", "rssi"),
          "bat_v": ("bat_v", "bat"), "up_s": ("up_s", "up")}  # fmt: skip


def _upsert(conn: Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(
        **key, **values
    )
    if values:
        conn.execute(insert.on_conflict_do_update(index_elements=list(key), set_=values))
    else:
        conn.execute(insert.on_conflict_do_nothing())


def record_report(
    conn: Connection,
    gateway_id: str,
    now_ms: int,
    report: Mapping[str, Any] | None,
    node_reports: list[dict[str, Any]] | None,
) -> None:
    """Keep the parsed health (:func:`protocol.parse_health`) and nodes (:func:`protocol.parse_nodes`)."""
    if report is not None:
        oldest = {s: report[f"oldest_{s}_s"] for s in protocol.STREAMS if f"oldest_{s}_s" in report}
        values = {
            "reported_ms": now_ms,
            "version": report.get("version"),
            "clock_ok": None if "clock" not in report else bool(report["clock"]),
            "oldest": json.dumps(oldest),
            **{k: report.get(k) for k in ("uptime_s", "disk_free_b", "disk_total_b", "store_b", "budget_b",
                                          "offset_ms", "dead", "sync_s", "water_alert_cm", "mains_min_v")},
        }  # fmt: skip
        _upsert(conn, health, {"gateway_id": gateway_id}, values)
    for item in node_reports or []:
        seen = item.get("seen")
        values = {
            "reported_ms": now_ms,
            "last_seen_ms": None if seen is None else now_ms - seen * 1000,
            "boot": item.get("boot"),
            "fw": item.get("fw"),
            "mem_free": item.get("mem"),
            "rssi": item.get("rssi"),
            "bat_v": item.get("bat"),
            "bad_frames": item.get("bad"),
            "frames": item.get("frames"),
            "up_s": item.get("up"),
            "interval_s": item.get("every"),
        }
        _upsert(conn, nodes, {"gateway_id": gateway_id, "node": item["node"]}, {k: v for k, v in values.items()
                                                                                  if v is not None})  # fmt: skip


def batch_stored(conn: Connection, gateway_id: str, batch: protocol.Batch, acked: int) -> None:
    """After a batch is stored (same transaction): roll up readings, take in hello events."""
    if batch.stream == "readings":
        rollup.advance(conn, gateway_id, acked)
    elif batch.stream == "events":
        for record in batch.records:
            if record.get("kind") == "hello" and record.get("node") and isinstance(record.get("data"), dict):
                _hello(conn, gateway_id, record)


def _order(boot: Any, up_s: Any) -> tuple[int, int] | None:
    """A hello's place in its node's life, (boot count, seconds since that boot); None when it lacks either."""
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (boot, up_s))
    return (int(boot), int(up_s)) if ok else None


def _hello(conn: Connection, gateway_id: str, record: Mapping[str, Any]) -> None:
    """Take a hello event's fields into the node's row, unless the row already holds a later hello's.

    Which hello is later is told by the node's own count, (boot, up_s) (DESIGN.md, the node frame), never by
    ``last_seen_ms``: that is also moved by the gateway's nodes report, which names the node's newest frame,
    usually a reading sent after the hello that is still on its way in an events batch (so comparing with it
    dropped a fresh hello). ``last_seen_ms`` only ever moves forward."""
    data = record["data"]
    at = int(record["at"]) + int(record.get("offset") or 0)
    key = {"gateway_id": gateway_id, "node": str(record["node"])[:32]}
    found = conn.execute(
        sa.select(nodes.c.last_seen_ms, nodes.c.boot, nodes.c.up_s).where(
            nodes.c.gateway_id == key["gateway_id"], nodes.c.node == key["node"]
        )
    ).first()
    values: dict[str, Any] = {}
    if found is None or found.last_seen_ms is None or found.last_seen_ms < at:
        values["last_seen_ms"] = at
    kept, this = (
        (_order(found.boot, found.up_s) if found else None),
        _order(data.get("boot"), data.get("up_s")),
    )
    if kept is not None and (this is None or this < kept):
        _upsert(conn, nodes, key, values)
        return  # an older hello (a batch sent again, or late): what is kept is newer
    if isinstance(data.get("fw"), str):
        values["fw"] = data["fw"][:40]
    for field, (column, kind) in _HELLO.items():
        value = data.get(field)
        # a value out of its sane range (or not a finite number) is left out: the batch is stored all the same
        if isinstance(value, int | float) and not isinstance(value, bool) and protocol.in_range(kind, value):
            values[column] = int(value) if field != "bat_v" else float(value)
    _upsert(conn, nodes, key, values)
