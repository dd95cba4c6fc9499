"""The fleet at a glance: every kiosk with its contact, backlog and reported health, every node under it with
its health, and the places of both (for the fleet page and its map)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync import protocol
from sync.central.db import gateways, stream_state
from sync.central.fleet import places, rules
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import alerts, health, nodes, series


def kiosks(conn: Connection, now_ms: int, cfg: FleetSettings) -> list[dict[str, Any]]:
    """Every registered kiosk (removed ones too, marked), sorted by id, each with ``nodes``.

    A kiosk: ``gateway_id``, ``name``, ``last_seen_ms``, ``last_batch_ms``, ``silent`` (bool), ``acked`` and
    ``backlog`` per stream, ``oldest_s`` per stream (the oldest waiting record's age as last reported),
    ``health`` (the last report: version, uptime_s, disk_free_b, disk_total_b, store_b, budget_b, clock_ok,
    offset_ms, dead, sync_s, reported_ms; None when it never reported), ``place``, ``alerts`` (unresolved count).
    A node: ``node``, ``last_seen_ms``, ``silent``, ``boot``, ``reboots_24h``, ``fw``, ``mem_free``, ``rssi``,
    ``bat_v``, ``bad_frames``, ``interval_s``, ``producer``, ``measurements`` (``{name: (last_ms, value)}``),
    ``place``.
    """
    where = {k: v for k, v in places.all_places(conn).items()}
    acked: dict[str, dict[str, int]] = {}
    for row in conn.execute(sa.select(stream_state)):
        acked.setdefault(row.gateway_id, {})[row.stream] = row.acked
    reports = {row.gateway_id: dict(row._mapping) for row in conn.execute(sa.select(health))}
    open_alerts: dict[str, int] = dict(
        conn.execute(
            sa.select(alerts.c.gateway_id, sa.func.count()).where(alerts.c.resolved_ms.is_(None)).group_by(alerts.c.gateway_id)
        ).all()
    )  # fmt: skip
    by_kiosk = _nodes(conn, now_ms, cfg, where)
    out = []
    for row in conn.execute(sa.select(gateways).order_by(gateways.c.id)):
        report = reports.get(row.id)
        sync_s = (report or {}).get("sync_s") or cfg.default_sync_s
        silent = row.last_seen_ms is None or now_ms - row.last_seen_ms > cfg.silent_factor * sync_s * 1000
        out.append({
            "gateway_id": row.id, "name": row.name, "removed": row.removed_ms is not None,
            "last_seen_ms": row.last_seen_ms, "last_batch_ms": row.last_batch_ms, "silent": silent,
            "acked": {s: acked.get(row.id, {}).get(s, 0) for s in protocol.STREAMS},
            "backlog": json.loads(row.backlog) if row.backlog else None,
            "oldest_s": json.loads(report["oldest"]) if report and report.get("oldest") else {},
            "health": report, "place": where.get((row.id, "")), "alerts": open_alerts.get(row.id, 0),
            "nodes": by_kiosk.get(row.id, []),
        })  # fmt: skip
    return out


def _nodes(
    conn: Connection, now_ms: int, cfg: FleetSettings, where: dict[tuple[str, str], Any]
) -> dict[str, list[dict[str, Any]]]:
    measured: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
    for row in conn.execute(sa.select(series)):
        measured.setdefault((row.gateway_id, row.node), {})[row.name] = (row.last_ms, row.last_value)
    kept = {(row.gateway_id, row.node): dict(row._mapping) for row in conn.execute(sa.select(nodes))}
    reboots = rules.reboots_last_day(conn, now_ms)
    out: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(set(kept) | set(measured)):
        info = kept.get(key, {})
        values = measured.get(key, {})
        last = max([info.get("last_seen_ms") or 0] + [at for at, _v in values.values()]) or None
        interval = info.get("interval_set_s") or info.get("interval_s") or cfg.node_default_interval_s
        out.setdefault(key[0], []).append({
            "node": key[1], "last_seen_ms": last,
            "silent": last is None or now_ms - last > cfg.node_silent_factor * interval * 1000,
            "boot": info.get("boot"), "reboots_24h": reboots.get(key, 0), "fw": info.get("fw"),
            "mem_free": info.get("mem_free"), "rssi": info.get("rssi"), "bat_v": info.get("bat_v"),
            "bad_frames": info.get("bad_frames"), "interval_s": interval,
            "interval_set": info.get("interval_set_s") is not None, "producer": info.get("producer"),
            "measurements": dict(sorted(values.items())), "place": where.get(key),
        })  # fmt: skip
    return out
