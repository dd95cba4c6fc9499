"""What officers set at the central about a kiosk or a node: its place (a label and WGS 84 coordinates), and a
node's producer (the OPD that owns its data) and reading interval. Every change is recorded in the back
office's audit trail with the values before and after."""

from __future__ import annotations

import math
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from sync.central.backoffice import accounts, audit
from sync.central.fleet.tables import nodes, places, series

_NODE_RE = re.compile(r"[a-z0-9-]{1,32}\Z")


class PlaceError(ValueError):
    """A value an officer gave that cannot be kept (answered 400 in the views, one line in the CLI). Its
    message is English, for the command line; ``code`` says which fault it is (:data:`FAULTS`), so that the
    back office says it in the officer's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


FAULTS = (
    "node-id",
    "coordinates-pair",
    "coordinates-range",
    "label",
    "unknown-node",
    "node-needed",
    "interval",
)


def _check(node: str, lat: float | None, lon: float | None) -> None:
    if node and not _NODE_RE.match(node):
        raise PlaceError("node-id", f"not a node id: {node!r}")
    if (lat is None) != (lon is None):
        raise PlaceError("coordinates-pair", "give both coordinates, or neither")
    if lat is not None and lon is not None and not _valid(lat, lon):
        raise PlaceError(
            "coordinates-range", "coordinates out of range (latitude -90..90, longitude -180..180)"
        )


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _known(conn: Connection, gateway_id: str, node: str) -> bool:
    """Whether the central has heard of ``node`` at ``gateway_id``: a row of it in the nodes or the series."""
    return any(
        conn.execute(
            sa.select(sa.literal(1)).where(t.c.gateway_id == gateway_id, t.c.node == node).limit(1)
        ).first()
        for t in (nodes, series)
    )


def _upsert(conn: Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(
        **key, **values
    )
    conn.execute(insert.on_conflict_do_update(index_elements=list(key), set_=values))


def set_place(
    engine: Engine,
    gateway_id: str,
    node: str,
    label: str,
    lat: float | None,
    lon: float | None,
    actor: audit.Actor,
    now_ms: int,
    *,
    known_only: bool = False,
) -> None:
    """Set where a kiosk (``node`` "") or a node stands; audited (``fleet-place``). PlaceError for a bad node id,
    bad coordinates or an empty label, and with ``known_only`` (the back office's form, where a typo would store
    an invisible place) for a node the central has never heard of at that kiosk (no report, hello or reading).
    The command line may place a node before its first report (a technician installing it)."""
    label = label.strip()[:200]
    if not label:
        raise PlaceError("label", "a place needs a label")
    _check(node, lat, lon)
    key = {"gateway_id": gateway_id, "node": node}
    with engine.begin() as conn:
        if known_only and node and not _known(conn, gateway_id, node):
            raise PlaceError("unknown-node", f"no node {node!r} is known at {gateway_id}")
        before = conn.execute(
            sa.select(places.c.label, places.c.lat, places.c.lon).where(
                places.c.gateway_id == gateway_id, places.c.node == node
            )
        ).first()
        after = {"label": label, "lat": lat, "lon": lon}
        _upsert(conn, places, key, after)
        target = f"{gateway_id}/{node}" if node else gateway_id
        audit.record(
            conn, actor, "fleet-place", target, now_ms, dict(before._mapping) if before else None, after
        )


def set_node(
    engine: Engine,
    gateway_id: str,
    node: str,
    actor: audit.Actor,
    now_ms: int,
    *,
    producer: str | None = None,
    interval_s: int | None = None,
) -> None:
    """Set a node's producer (a known OPD code, its one producer for the fleet and for open data; "" clears
    it) and/or its reading interval in seconds (0 clears it: the gateway's report counts again); audited
    (``fleet-node``). PlaceError for a bad node id or interval; accounts.UnknownOpd for an unknown OPD."""
    _check(node, None, None)
    if not node:
        raise PlaceError("node-needed", "a node id is needed")
    values: dict[str, Any] = {}
    if producer is not None:
        values["producer"] = producer.strip()[:64] or None
    if interval_s is not None:
        if not 0 <= interval_s <= 86_400:
            raise PlaceError("interval", "the interval is 1 to 86400 seconds (0: as the gateway reports)")
        values["interval_set_s"] = interval_s or None
    if not values:
        return
    with engine.begin() as conn:
        if values.get("producer"):
            accounts.check_opd(conn, values["producer"])
        before = conn.execute(
            sa.select(nodes.c.producer, nodes.c.interval_set_s).where(
                nodes.c.gateway_id == gateway_id, nodes.c.node == node
            )
        ).first()
        _upsert(conn, nodes, {"gateway_id": gateway_id, "node": node}, values)
        audit.record(conn, actor, "fleet-node", f"{gateway_id}/{node}", now_ms,
                     dict(before._mapping) if before else None, values)  # fmt: skip
