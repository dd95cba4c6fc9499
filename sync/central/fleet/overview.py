"""The fleet at a glance: the kiosks, a page at a time (filtered, sorted), each with its contact, backlog and
reported health and a bounded list of its nodes with their health, and the places of both (for the fleet page
and its map).

Everything that selects, filters, sorts or counts is SQL, so that a page of the fleet reads its own kiosks and
their shown nodes, never the whole fleet: at 1,000 kiosks of 10 nodes each the fleet page stays as quick as at
ten (``bench/fleet.py`` measures it). Whether a kiosk or a node is silent is decided by the same rule as the
alerts' (:mod:`.rules`: ``silent_factor`` x the kiosk's sync interval, ``node_silent_factor`` x the node's).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync import protocol
from sync.central.db import gateways, stream_state
from sync.central.fleet import rules
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import alerts, health, nodes, places, series

STATES = ("", "silent", "alerts", "ok")  # the state filter: any, silent, with unresolved alerts, neither
SORTS = ("id", "contact", "alerts")  # by id; the longest without contact first; the most alerts first
PER_PAGE = 25  # kiosks on a page of the fleet
NODES_SHOWN = 12  # nodes listed under each kiosk on the fleet page (silent ones first)
NODES_PER_PAGE = 100  # nodes on a page of one kiosk's own page
MEASURES_SHOWN = 12  # latest measurements listed per node


@dataclass(frozen=True)
class Query:
    """Which kiosks a page shows: ``q`` (part of the id, name or place label, any case), ``state`` (one of
    :data:`STATES`), ``sort`` (one of :data:`SORTS`), ``page`` (from 1) of ``per_page``; ``gateway`` one kiosk
    exactly (its own page). ValueError for an unknown state or sort."""

    q: str = ""
    state: str = ""
    sort: str = "id"
    page: int = 1
    per_page: int = PER_PAGE
    gateway: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES or self.sort not in SORTS:
            raise ValueError(f"state is one of {STATES[1:]}, sort one of {SORTS}")


@dataclass
class Page:
    """One page of the fleet: ``kiosks`` (see :func:`page`), ``total`` kiosks matching the query, ``page`` and
    ``pages``; ``fleet`` counts the whole fleet (``kiosks``, ``silent``, ``alerts``: kiosks with unresolved
    alerts), whatever the query."""

    kiosks: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    fleet: dict[str, int] = field(default_factory=dict)


def _kiosk_columns(now_ms: int, cfg: FleetSettings) -> tuple[Any, Any, Any]:
    """(the FROM clause, the silent flag, the unresolved alert count) of the kiosks' query."""
    open_alerts = (
        sa.select(alerts.c.gateway_id, sa.func.count().label("n"))
        .where(alerts.c.resolved_ms.is_(None))
        .group_by(alerts.c.gateway_id)
        .subquery()
    )
    kiosk_place = places.alias("kiosk_place")
    source = (
        gateways.outerjoin(health, health.c.gateway_id == gateways.c.id)
        .outerjoin(open_alerts, open_alerts.c.gateway_id == gateways.c.id)
        .outerjoin(kiosk_place, sa.and_(kiosk_place.c.gateway_id == gateways.c.id, kiosk_place.c.node == ""))
    )
    sync_s = sa.func.coalesce(sa.func.nullif(health.c.sync_s, 0), cfg.default_sync_s)
    silent = sa.or_(
        gateways.c.last_seen_ms.is_(None),
        sa.literal(now_ms, sa.BigInteger) - gateways.c.last_seen_ms > cfg.silent_factor * 1000 * sync_s,
    )
    count = sa.func.coalesce(open_alerts.c.n, 0)
    return (source, kiosk_place), silent, count


def page(
    conn: Connection,
    now_ms: int,
    cfg: FleetSettings,
    query: Query | None = None,
    *,
    nodes_shown: int = NODES_SHOWN,
    node_offset: int = 0,
) -> Page:
    """The kiosks of ``query`` (default: the first page of all), each with at most ``nodes_shown`` of its nodes
    from the ``node_offset``-th (silent ones first, then by id).

    A kiosk: ``gateway_id``, ``name``, ``removed``, ``last_seen_ms``, ``last_batch_ms``, ``silent`` (bool),
    ``acked`` and ``backlog`` per stream, ``oldest_s`` per stream (the oldest waiting record's age as last
    reported), ``health`` (the last report: version, uptime_s, disk_free_b, disk_total_b, store_b, budget_b,
    clock_ok, offset_ms, dead, sync_s, reported_ms; None when it never reported), ``place``, ``alerts``
    (unresolved count), ``nodes``, ``nodes_total`` and ``nodes_silent`` (all its nodes). A node: ``node``,
    ``last_seen_ms``, ``silent``, ``boot``, ``reboots_24h``, ``fw``, ``mem_free``, ``rssi``, ``bat_v``,
    ``bad_frames``, ``up_s`` (the node's own uptime in s, from its last hello), ``interval_s``, ``interval_set``, ``producer``, ``measurements`` (``{name: (last_ms,
    value)}``, at most :data:`MEASURES_SHOWN`), ``measurements_total``, ``place``. Times are ms UTC.
    """
    query = query or Query()
    (source, kiosk_place), silent, alert_count = _kiosk_columns(now_ms, cfg)
    where = []
    if query.gateway is not None:
        where.append(gateways.c.id == query.gateway)
    text = query.q.strip().lower()
    if text:
        where.append(sa.or_(*(sa.func.lower(column).contains(text, autoescape=True)
                              for column in (gateways.c.id, gateways.c.name, kiosk_place.c.label))))  # fmt: skip
    if query.state == "silent":
        where.append(silent)
    elif query.state == "alerts":
        where.append(alert_count > 0)
    elif query.state == "ok":
        where.append(sa.and_(sa.not_(silent), alert_count == 0))
    silent_flag = sa.case((silent, 1), else_=0)
    summary = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(silent_flag), sa.func.sum(sa.case((alert_count > 0, 1), else_=0)))
        .select_from(source)
    ).one()  # fmt: skip
    total = int(conn.execute(sa.select(sa.func.count()).select_from(source).where(*where)).scalar_one())
    pages = max(1, math.ceil(total / query.per_page))
    number = min(max(1, query.page), pages)
    orders: dict[str, list[Any]] = {
        "id": [gateways.c.id],
        "contact": [gateways.c.last_seen_ms.asc().nulls_first(), gateways.c.id],
        "alerts": [alert_count.desc(), gateways.c.id],
    }
    order = orders[query.sort]
    columns: list[Any] = [
        gateways.c.id, gateways.c.name, gateways.c.removed_ms, gateways.c.last_seen_ms, gateways.c.last_batch_ms,
        gateways.c.backlog, silent_flag.label("silent"), alert_count.label("alerts"), kiosk_place.c.label,
        kiosk_place.c.lat, kiosk_place.c.lon, *[column.label(f"health_{column.name}") for column in health.c],
    ]  # fmt: skip
    rows = conn.execute(
        sa.select(*columns)
        .select_from(source).where(*where).order_by(*order)
        .limit(query.per_page).offset((number - 1) * query.per_page)
    ).all()  # fmt: skip
    ids = [row.id for row in rows]
    acked: dict[str, dict[str, int]] = {}
    if ids:
        for state_row in conn.execute(sa.select(stream_state).where(stream_state.c.gateway_id.in_(ids))):
            acked.setdefault(state_row.gateway_id, {})[state_row.stream] = state_row.acked
    by_kiosk, counts = _nodes(conn, ids, now_ms, cfg, nodes_shown, node_offset)
    kiosks = []
    for row in rows:
        fields = row._mapping
        report = (
            {c.name: fields[f"health_{c.name}"] for c in health.c}
            if fields["health_gateway_id"] is not None
            else None
        )
        kiosks.append({
            "gateway_id": row.id, "name": row.name, "removed": row.removed_ms is not None,
            "last_seen_ms": row.last_seen_ms, "last_batch_ms": row.last_batch_ms, "silent": bool(row.silent),
            "acked": {s: acked.get(row.id, {}).get(s, 0) for s in protocol.STREAMS},
            "backlog": json.loads(row.backlog) if row.backlog else None,
            "oldest_s": json.loads(report["oldest"]) if report and report.get("oldest") else {},
            "health": report, "alerts": int(row.alerts),
            "place": {"label": row.label, "lat": row.lat, "lon": row.lon} if row.label is not None else None,
            "nodes": by_kiosk.get(row.id, []),
            "nodes_total": counts.get(row.id, (0, 0))[0], "nodes_silent": counts.get(row.id, (0, 0))[1],
        })  # fmt: skip
    fleet = {"kiosks": int(summary[0]), "silent": int(summary[1] or 0), "alerts": int(summary[2] or 0)}
    return Page(kiosks, total, number, pages, fleet)


def _node_state(last_reading: Any, now_ms: int, cfg: FleetSettings) -> tuple[Any, Any, Any]:
    """(last heard, interval in s, silent 1/0) of a node, from ``fleet_nodes`` joined with ``last_reading``
    (its latest reading per (gateway_id, node)): the later of the two, the interval set at the central, else
    reported, else ``node_default_interval_s``."""
    last = sa.case(
        (nodes.c.last_seen_ms.is_(None), last_reading.c.last_ms),
        (sa.or_(last_reading.c.last_ms.is_(None), nodes.c.last_seen_ms > last_reading.c.last_ms),
         nodes.c.last_seen_ms),
        else_=last_reading.c.last_ms,
    )  # fmt: skip
    interval = sa.func.coalesce(
        sa.func.nullif(nodes.c.interval_set_s, 0),
        sa.func.nullif(nodes.c.interval_s, 0),
        cfg.node_default_interval_s,
    )
    silent = sa.case(
        (sa.or_(last.is_(None), sa.literal(now_ms, sa.BigInteger) - last > cfg.node_silent_factor * 1000 * interval), 1),
        else_=0,
    )  # fmt: skip
    return last, interval, silent


def _node_alerts() -> Any:
    """A subquery of each node's own unresolved alerts: ``gateway_id``, ``node``, ``n``."""
    return (
        sa.select(alerts.c.gateway_id, alerts.c.node, sa.func.count().label("n"))
        .where(alerts.c.resolved_ms.is_(None), alerts.c.node.is_not(None))
        .group_by(alerts.c.gateway_id, alerts.c.node)
        .subquery("node_alerts")
    )


def placed(conn: Connection, now_ms: int, cfg: FleetSettings) -> list[dict[str, Any]]:
    """Every kiosk that has a place or a placed node, for the whole regency's map (:mod:`.mapsvg`):
    ``gateway_id``, ``silent``, ``alerts``, ``place`` (None when only its nodes are placed) and ``nodes`` (only
    the placed ones: ``node``, ``silent``, ``alerts`` (its own unresolved count), ``place``). Reads the places, never every node of the fleet."""
    (source, kiosk_place), silent, alert_count = _kiosk_columns(now_ms, cfg)
    node_place = places.alias("node_place")
    kiosks: dict[str, dict[str, Any]] = {}
    with_nodes = sa.select(node_place.c.gateway_id).where(
        node_place.c.node != "", node_place.c.lat.is_not(None)
    )
    for row in conn.execute(
        sa.select(gateways.c.id, sa.case((silent, 1), else_=0).label("silent"), alert_count.label("alerts"),
                  kiosk_place.c.label, kiosk_place.c.lat, kiosk_place.c.lon)
        .select_from(source)
        .where(sa.or_(kiosk_place.c.lat.is_not(None), gateways.c.id.in_(with_nodes)))
        .order_by(gateways.c.id)
    ):  # fmt: skip
        place = {"label": row.label, "lat": row.lat, "lon": row.lon} if row.lat is not None else None
        kiosks[row.id] = {"gateway_id": row.id, "silent": bool(row.silent), "alerts": int(row.alerts),
                          "place": place, "nodes": []}  # fmt: skip
    last_reading = (
        sa.select(series.c.gateway_id, series.c.node, sa.func.max(series.c.last_ms).label("last_ms"))
        .select_from(series.join(node_place, sa.and_(node_place.c.gateway_id == series.c.gateway_id,
                                                     node_place.c.node == series.c.node)))
        .where(node_place.c.lat.is_not(None))
        .group_by(series.c.gateway_id, series.c.node)
        .subquery()
    )  # fmt: skip
    _last, _interval, node_silent = _node_state(last_reading, now_ms, cfg)
    own = _node_alerts()
    query = (
        sa.select(node_place.c.gateway_id, node_place.c.node, node_place.c.label, node_place.c.lat,
                  node_place.c.lon, node_silent.label("silent"), sa.func.coalesce(own.c.n, 0).label("alerts"))
        .select_from(
            node_place.outerjoin(nodes, sa.and_(nodes.c.gateway_id == node_place.c.gateway_id,
                                                nodes.c.node == node_place.c.node))
            .outerjoin(last_reading, sa.and_(last_reading.c.gateway_id == node_place.c.gateway_id,
                                             last_reading.c.node == node_place.c.node))
            .outerjoin(own, sa.and_(own.c.gateway_id == node_place.c.gateway_id, own.c.node == node_place.c.node))
        )
        .where(node_place.c.node != "", node_place.c.lat.is_not(None))
        .order_by(node_place.c.gateway_id, node_place.c.node)
    )  # fmt: skip
    for spot in conn.execute(query):
        if spot.gateway_id in kiosks:
            kiosks[spot.gateway_id]["nodes"].append({
                "node": spot.node, "silent": bool(spot.silent), "alerts": int(spot.alerts),
                "place": {"label": spot.label, "lat": spot.lat, "lon": spot.lon},
            })  # fmt: skip
    return list(kiosks.values())


def _nodes(
    conn: Connection, ids: list[str], now_ms: int, cfg: FleetSettings, limit: int, offset: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[int, int]]]:
    """The shown nodes of kiosks ``ids`` (the ``offset``-th to the ``offset + limit``-th of each, silent first,
    then by id) and, per kiosk, (its nodes, its silent nodes)."""
    if not ids:
        return {}, {}
    last_reading = (
        sa.select(series.c.gateway_id, series.c.node, sa.func.max(series.c.last_ms).label("last_ms"))
        .where(series.c.gateway_id.in_(ids))
        .group_by(series.c.gateway_id, series.c.node)
        .subquery()
    )
    keys = sa.union(
        sa.select(nodes.c.gateway_id, nodes.c.node).where(nodes.c.gateway_id.in_(ids)),
        sa.select(last_reading.c.gateway_id, last_reading.c.node),
    ).subquery()
    last, interval, silent = _node_state(last_reading, now_ms, cfg)
    ranked = (
        sa.select(
            keys.c.gateway_id, keys.c.node, last.label("last_seen_ms"), interval.label("interval_s"),
            silent.label("silent"), nodes.c.interval_set_s, nodes.c.boot, nodes.c.fw, nodes.c.mem_free,
            nodes.c.rssi, nodes.c.bat_v, nodes.c.bad_frames, nodes.c.producer, nodes.c.up_s,
            sa.func.row_number().over(partition_by=keys.c.gateway_id, order_by=(silent.desc(), keys.c.node)).label("rank"),
            sa.func.count().over(partition_by=keys.c.gateway_id).label("total"),
            sa.func.sum(silent).over(partition_by=keys.c.gateway_id).label("silent_total"),
        )
        .select_from(
            keys.outerjoin(nodes, sa.and_(nodes.c.gateway_id == keys.c.gateway_id, nodes.c.node == keys.c.node))
            .outerjoin(last_reading, sa.and_(last_reading.c.gateway_id == keys.c.gateway_id,
                                             last_reading.c.node == keys.c.node))
        )
        .subquery()
    )  # fmt: skip
    shown = sa.select(ranked).where(ranked.c.rank > offset, ranked.c.rank <= offset + limit).subquery()
    # one query: each shown node with its measurements (one row each) and its place, read through the keys
    rows = conn.execute(
        sa.select(shown, series.c.name, series.c.last_ms, series.c.last_value, places.c.label, places.c.lat,
                  places.c.lon)
        .select_from(
            shown.outerjoin(series, sa.and_(series.c.gateway_id == shown.c.gateway_id, series.c.node == shown.c.node))
            .outerjoin(places, sa.and_(places.c.gateway_id == shown.c.gateway_id, places.c.node == shown.c.node))
        )
        .order_by(shown.c.gateway_id, shown.c.rank, series.c.name)
    ).all()  # fmt: skip
    firsts = (
        {r.gateway_id: (r.total, r.silent_total) for r in rows if r.rank == 1}
        if offset == 0
        else {r.gateway_id: (r.total, r.silent_total) for r in conn.execute(
            sa.select(ranked.c.gateway_id, ranked.c.total, ranked.c.silent_total).where(ranked.c.rank == 1))}
    )  # fmt: skip
    counts = {gw: (int(total), int(silent_total or 0)) for gw, (total, silent_total) in firsts.items()}
    reboots = rules.reboots_last_day(conn, now_ms, sorted({r.gateway_id for r in rows})) if rows else {}
    shown_ids = sorted({r.gateway_id for r in rows})
    node_alerts = {
        (gw, nd): int(n)
        for gw, nd, n in conn.execute(
            sa.select(alerts.c.gateway_id, alerts.c.node, sa.func.count())
            .where(alerts.c.resolved_ms.is_(None), alerts.c.node.is_not(None), alerts.c.gateway_id.in_(shown_ids))
            .group_by(alerts.c.gateway_id, alerts.c.node)
        )
    } if rows else {}  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {}
    node: dict[str, Any] = {}
    current = None
    for row in rows:
        key = (row.gateway_id, row.node)
        if key != current:
            current = key
            node = {
                "node": row.node, "last_seen_ms": row.last_seen_ms, "silent": bool(row.silent),
                "boot": row.boot, "reboots_24h": reboots.get(key, 0), "alerts": node_alerts.get(key, 0), "fw": row.fw, "mem_free": row.mem_free,
                "rssi": row.rssi, "bat_v": row.bat_v, "bad_frames": row.bad_frames, "up_s": row.up_s,
                "interval_s": int(row.interval_s), "interval_set": row.interval_set_s is not None,
                "producer": row.producer, "measurements": {}, "measurements_total": 0,
                "place": {"label": row.label, "lat": row.lat, "lon": row.lon} if row.label is not None else None,
            }  # fmt: skip
            out.setdefault(row.gateway_id, []).append(node)
        if row.name is not None:
            node["measurements_total"] += 1
            if len(node["measurements"]) < MEASURES_SHOWN:
                node["measurements"][row.name] = (row.last_ms, row.last_value)
    return out, counts
