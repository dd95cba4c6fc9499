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

from sync.central import db
from sync.central.backoffice import accounts, audit
from sync.central.fleet.tables import nodes, places, series
from sync.central.opendata.tables import places as opendata_places

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
    "unknown-gateway",
    "node-heard",
)

# how an officer at the command line sees the kiosks the central knows
LIST_GATEWAYS = "anjungan central list-gateways"


def check_gateway(conn: Connection, gateway_id: str) -> None:
    """Raise PlaceError ``unknown-gateway`` unless ``gateway_id`` is registered at the central (a row in
    ``gateways``, removed or not: what a removed kiosk sent stays, and so may its place). Its one-line message
    says how to list the known ones."""
    if conn.execute(sa.select(db.gateways.c.id).where(db.gateways.c.id == gateway_id)).first() is None:
        raise PlaceError("unknown-gateway", f"no kiosk {gateway_id!r} is registered at the central; "
                                            f"list the known ones with: {LIST_GATEWAYS}")  # fmt: skip


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


def known(conn: Connection, gateway_id: str, node: str) -> bool:
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
) -> bool:
    """Set where a kiosk (``node`` "") or a node stands; audited (``fleet-place``). Answers whether the node has
    reported itself (:func:`heard_from`; True for a kiosk): False means it was placed before its first report. PlaceError
    for an unknown kiosk (``unknown-gateway``), a bad node id, bad coordinates or an empty label, and with
    ``known_only`` (the back office's form, where a typo would store
    an invisible place) for a node the central has never heard of at that kiosk (no report, hello or reading).
    The command line may place a node before its first report (a technician installing it)."""
    label = label.strip()[:200]
    if not label:
        raise PlaceError("label", "a place needs a label")
    _check(node, lat, lon)
    key = {"gateway_id": gateway_id, "node": node}
    with engine.begin() as conn:
        check_gateway(conn, gateway_id)
        heard = not node or heard_from(conn, gateway_id, node)
        if known_only and node and not known(conn, gateway_id, node):
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
    return heard


def set_node(
    engine: Engine,
    gateway_id: str,
    node: str,
    actor: audit.Actor,
    now_ms: int,
    *,
    producer: str | None = None,
    interval_s: int | None = None,
) -> bool:
    """Set a node's producer (a known OPD code, its one producer for the fleet and for open data; "" clears
    it) and/or its reading interval in seconds (0 clears it: the gateway's report counts again); audited
    (``fleet-node``). Answers whether the node has reported itself (:func:`heard_from`; False: set before its
    first report).
    PlaceError for an unknown kiosk, a bad node id or interval; accounts.UnknownOpd for an unknown OPD."""
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
    with engine.begin() as conn:
        check_gateway(conn, gateway_id)
        heard = heard_from(conn, gateway_id, node)
        if not values:
            return heard
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
    return heard


def heard_from(conn: Connection, gateway_id: str, node: str) -> bool:
    """Whether ``node`` at ``gateway_id`` has reported itself: a reading (its series), or a health report or
    hello (its ``last_seen_ms``/``reported_ms``); a row set only by officers does not count."""
    if conn.execute(
        sa.select(sa.literal(1)).where(series.c.gateway_id == gateway_id, series.c.node == node).limit(1)
    ).first():
        return True
    row = conn.execute(
        sa.select(nodes.c.last_seen_ms, nodes.c.reported_ms).where(
            nodes.c.gateway_id == gateway_id, nodes.c.node == node
        )
    ).first()
    return row is not None and (row.last_seen_ms is not None or row.reported_ms is not None)


def forget_node(
    engine: Engine, gateway_id: str, node: str, actor: audit.Actor, now_ms: int
) -> dict[str, Any]:
    """Remove what officers set about a node placed by mistake before its first report: its place, producer and
    interval (the fleet's and open data's rows); audited (``fleet-forget-node``, with what was removed).

    Answers what was removed: ``{"place": {...} | None, "node": {...} | None, "open_data": {...} | None}``.
    PlaceError ``unknown-gateway``, ``node-id`` for a bad id, ``node-heard`` for a node that has reported or
    has readings (its data and its history stay; nothing is removed), ``unknown-node`` when nothing was set.
    """
    _check(node, None, None)
    if not node:
        raise PlaceError("node-needed", "a node id is needed")
    with engine.begin() as conn:
        check_gateway(conn, gateway_id)
        if heard_from(conn, gateway_id, node):
            raise PlaceError("node-heard", f"node {node!r} at {gateway_id} has reported or has readings: "
                                           "it is kept (set its place or producer instead)")  # fmt: skip
        removed: dict[str, Any] = {}
        for name, table in (("place", places), ("node", nodes), ("open_data", opendata_places)):
            where = (table.c.gateway_id == gateway_id, table.c.node == node)
            row = conn.execute(sa.select(table).where(*where)).mappings().first()
            removed[name] = {k: v for k, v in row.items() if k not in ("gateway_id", "node")} if row else None
            conn.execute(table.delete().where(*where))
        if not any(removed.values()):
            raise PlaceError("unknown-node", f"nothing is set for node {node!r} at {gateway_id}")
        audit.record(conn, actor, "fleet-forget-node", f"{gateway_id}/{node}", now_ms, removed, None)
    return removed
