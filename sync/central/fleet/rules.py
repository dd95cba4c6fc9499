"""The alert rules: which conditions hold across the fleet at a moment (ms, the central's clock).

Each rule answers :class:`Condition` objects keyed by what they are about; :mod:`.alerts` turns them into
alerts with a lifecycle. The rules (docs/central.md, "Alerts"):

- ``kiosk-silent``: no contact for ``silent_factor`` × the kiosk's sync interval (as it reports it).
- ``node-silent``: no frame from a node for ``node_silent_factor`` × its interval, while its kiosk talks (a
  silent kiosk says nothing about its nodes: its own alert covers them).
- ``node-reboots``: ``reboots_per_day`` or more reboot events of a node in the last 24 hours.
- ``power``: a power node's latest ``mains_v`` below the kiosk's ``mains_min_v`` (0 V: the PZEM sees no mains),
  its ``mains_ok`` 0, or the power node silent while its kiosk talks (no answer); with the outage's start and
  the kiosks affected (this one, and those that fell silent within ``OUTAGE_NEARBY_MS`` of its start).
- ``water`` / ``rain``: the latest ``water_cm`` at or above the kiosk's serta-merta threshold; the rain since
  the start of the previous clock hour (one to two hours: the sum of ``rain_mm``, with that start as
  ``since_ms``) at or above ``rain_alert_mm``, starting at the first reading of rain (above 0 mm) in it.
- ``store-full``: the store at ``store_full_pct`` % of its budget, or the disk that full.
- ``clock``: the kiosk reports its clock not known good.
- ``dead-letters``: the kiosk reports records the central refused, waiting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.central.db import events, gateways, readings
from sync.central.fleet.rollup import HOUR_MS, reading_time
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import health, hourly, nodes, series

DAY_MS = 86_400_000
OUTAGE_NEARBY_MS = 600_000
POWER_NAMES = ("mains_v", "mains_ok")


@dataclass
class Condition:
    """A condition that holds now: ``key`` names it, ``started_ms`` is when it began (best known)."""

    key: str
    kind: str
    gateway_id: str
    node: str | None
    started_ms: int
    detail: dict[str, Any] = field(default_factory=dict)


def evaluate(conn: Connection, now_ms: int, cfg: FleetSettings) -> dict[str, Condition]:
    """Every condition that holds at ``now_ms``, by key."""
    kiosks = _kiosks(conn)
    found: list[Condition] = []
    silent = set()
    for gw, info in kiosks.items():
        sync_s = info["sync_s"] or cfg.default_sync_s
        last = info["last_seen_ms"]
        if last is not None and now_ms - last > cfg.silent_factor * sync_s * 1000:
            silent.add(gw)
            found.append(Condition(f"kiosk-silent:{gw}", "kiosk-silent", gw, None, last,
                                   {"last_seen_ms": last, "sync_s": sync_s}))  # fmt: skip
        found += _gateway_health(gw, info, cfg)
    node_rows = _nodes(conn, set(kiosks), cfg)
    found += _node_conditions(node_rows, kiosks, silent, now_ms, cfg)
    found += _power(conn, node_rows, kiosks, silent, now_ms, cfg)
    found += _water_and_rain(conn, kiosks, node_rows, now_ms, cfg)
    found += _reboots(conn, set(kiosks), now_ms, cfg)
    _affected(found, kiosks)
    return {c.key: c for c in found}


def _kiosks(conn: Connection) -> dict[str, dict[str, Any]]:
    query = (
        sa.select(gateways.c.id, gateways.c.last_seen_ms, health)
        .select_from(gateways.outerjoin(health, health.c.gateway_id == gateways.c.id))
        .where(gateways.c.removed_ms.is_(None))
    )
    return {row.id: dict(row._mapping) for row in conn.execute(query)}


def _gateway_health(gw: str, info: dict[str, Any], cfg: FleetSettings) -> list[Condition]:
    out = []
    at = info.get("reported_ms") or 0
    store, budget = info.get("store_b"), info.get("budget_b")
    free, total = info.get("disk_free_b"), info.get("disk_total_b")
    limit = cfg.store_full_pct / 100
    if (store and budget and store >= limit * budget) or (
        total and free is not None and total - free >= limit * total
    ):
        out.append(Condition(f"store-full:{gw}", "store-full", gw, None, at, {
            "store_b": store, "budget_b": budget, "disk_free_b": free, "disk_total_b": total}))  # fmt: skip
    if info.get("clock_ok") is False:
        out.append(Condition(f"clock:{gw}", "clock", gw, None, at, {}))
    if info.get("dead"):
        out.append(Condition(f"dead-letters:{gw}", "dead-letters", gw, None, at, {"count": info["dead"]}))
    return out


def _nodes(conn: Connection, kiosks: set[str], cfg: FleetSettings) -> list[dict[str, Any]]:
    """Every node: its last frame (reported, from hellos, or its latest reading) and interval."""
    last_reading = (
        sa.select(series.c.gateway_id, series.c.node, sa.func.max(series.c.last_ms).label("last_ms"))
        .group_by(series.c.gateway_id, series.c.node)
        .subquery()
    )
    rows = {}
    for row in conn.execute(sa.select(nodes)):
        rows[(row.gateway_id, row.node)] = dict(row._mapping)
    for gw, node, last in conn.execute(sa.select(last_reading)):
        entry = rows.setdefault((gw, node), {"gateway_id": gw, "node": node, "last_seen_ms": None})
        if last is not None and (entry.get("last_seen_ms") is None or last > entry["last_seen_ms"]):
            entry["last_seen_ms"] = last
    out = []
    for entry in rows.values():
        if entry["gateway_id"] not in kiosks:
            continue
        entry["every_s"] = (
            entry.get("interval_set_s") or entry.get("interval_s") or cfg.node_default_interval_s
        )
        out.append(entry)
    return out


def _silent(node: dict[str, Any], now_ms: int, cfg: FleetSettings) -> bool:
    last = node.get("last_seen_ms")
    return last is not None and now_ms - last > cfg.node_silent_factor * node["every_s"] * 1000


def _node_conditions(
    node_rows: list[dict[str, Any]], kiosks: dict[str, Any], silent: set[str], now_ms: int, cfg: FleetSettings
) -> list[Condition]:
    out = []
    for node in node_rows:
        gw = node["gateway_id"]
        if gw not in silent and _silent(node, now_ms, cfg):
            out.append(Condition(f"node-silent:{gw}/{node['node']}", "node-silent", gw, node["node"],
                                 node["last_seen_ms"], {"last_seen_ms": node["last_seen_ms"],
                                                        "interval_s": node["every_s"]}))  # fmt: skip
    return out


def _latest(conn: Connection, names: tuple[str, ...]) -> dict[tuple[str, str, str], tuple[int, float]]:
    query = sa.select(
        series.c.gateway_id, series.c.node, series.c.name, series.c.last_ms, series.c.last_value
    )
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in conn.execute(query.where(series.c.name.in_(names)))}


def _power(
    conn: Connection,
    node_rows: list[dict[str, Any]],
    kiosks: dict[str, Any],
    silent: set[str],
    now_ms: int,
    cfg: FleetSettings,
) -> list[Condition]:
    latest = _latest(conn, POWER_NAMES)
    power_nodes = {(gw, node) for gw, node, _name in latest}
    by_key = {(n["gateway_id"], n["node"]): n for n in node_rows}
    out = []
    for gw, node in sorted(power_nodes):
        info = by_key.get((gw, node))
        limit = kiosks.get(gw, {}).get("mains_min_v") or cfg.mains_min_v
        volts, ok = latest.get((gw, node, "mains_v")), latest.get((gw, node, "mains_ok"))
        detail: dict[str, Any] = {"mains_min_v": limit}
        if info is not None and gw not in silent and _silent(info, now_ms, cfg):
            detail["cause"] = "no-answer"
            started = info["last_seen_ms"]
        elif (volts is not None and volts[1] < limit) or (ok is not None and ok[1] == 0):
            detail["cause"] = "no-mains"
            detail["mains_v"] = volts[1] if volts else None
            started = _outage_start(conn, gw, node, limit, now_ms) or (volts or ok or (now_ms, 0))[0]
        else:
            continue
        out.append(Condition(f"power:{gw}/{node}", "power", gw, node, started, detail))
    return out


def _outage_start(conn: Connection, gw: str, node: str, limit: float, now_ms: int) -> int | None:
    """The first reading below ``limit`` after the last one at or above it (within a week)."""
    at = reading_time()
    base = (readings.c.gateway_id == gw, readings.c.node == node, readings.c.name == "mains_v",
            readings.c.true_ms >= now_ms - 7 * DAY_MS)  # fmt: skip
    last_good = conn.execute(sa.select(sa.func.max(at)).where(*base, readings.c.value >= limit)).scalar()
    query = sa.select(sa.func.min(at)).where(*base, readings.c.value < limit)
    if last_good is not None:
        query = query.where(at > last_good)
    return conn.execute(query).scalar()


def _water_and_rain(
    conn: Connection, kiosks: dict[str, Any], node_rows: list[dict[str, Any]], now_ms: int, cfg: FleetSettings
) -> list[Condition]:
    out = []
    fresh = {(n["gateway_id"], n["node"]): not _silent(n, now_ms, cfg) for n in node_rows}
    for (gw, node, _name), (at, value) in _latest(conn, ("water_cm",)).items():
        limit = kiosks.get(gw, {}).get("water_alert_cm") or cfg.water_alert_cm
        if gw in kiosks and fresh.get((gw, node), True) and value >= limit:
            out.append(Condition(f"water:{gw}/{node}", "water", gw, node, at,
                                 {"water_cm": value, "limit_cm": limit}))  # fmt: skip
    since = (now_ms // HOUR_MS - 1) * HOUR_MS  # this hour and the one before
    query = (
        sa.select(
            hourly.c.gateway_id, hourly.c.node, sa.func.sum(hourly.c.total), sa.func.min(hourly.c.hour_ms)
        )
        .where(hourly.c.name == "rain_mm", hourly.c.hour_ms >= since)
        .group_by(hourly.c.gateway_id, hourly.c.node)
    )
    for gw, node, total, first in conn.execute(query):
        if gw in kiosks and total is not None and total >= cfg.rain_alert_mm:
            began = _rain_start(conn, gw, node, since, now_ms) or first
            out.append(Condition(f"rain:{gw}/{node}", "rain", gw, node, began,
                                 {"rain_mm": round(total, 1), "limit_mm": cfg.rain_alert_mm,
                                  "since_ms": since}))  # fmt: skip
    return out


def _rain_start(conn: Connection, gw: str, node: str, since: int, now_ms: int) -> int | None:
    """When the rain summed since ``since`` began: the time of its first reading above 0 mm (None if none is
    stored, e.g. readings older than the roll-ups)."""
    at = reading_time()
    return conn.execute(
        sa.select(sa.func.min(at)).where(readings.c.gateway_id == gw, readings.c.node == node,
                                         readings.c.name == "rain_mm", readings.c.value > 0, at >= since,
                                         at <= now_ms)
    ).scalar()  # fmt: skip


def _reboots(conn: Connection, kiosks: set[str], now_ms: int, cfg: FleetSettings) -> list[Condition]:
    at = sa.func.coalesce(events.c.true_ms, events.c.at_ms)
    query = (
        sa.select(events.c.gateway_id, events.c.node, sa.func.count(), sa.func.min(at))
        .where(events.c.kind == "reboot", events.c.at_ms >= now_ms - 2 * DAY_MS, at >= now_ms - DAY_MS)
        .group_by(events.c.gateway_id, events.c.node)
    )
    out = []
    for gw, node, count, first in conn.execute(query):
        if gw in kiosks and node and count >= cfg.reboots_per_day:
            out.append(Condition(f"node-reboots:{gw}/{node}", "node-reboots", gw, node, first,
                                 {"reboots_24h": count}))  # fmt: skip
    return out


def reboots_last_day(
    conn: Connection, now_ms: int, gateway_ids: list[str] | None = None
) -> dict[tuple[str, str], int]:
    """Reboots of each (gateway, node) in the 24 hours before ``now_ms``, from reboot events; only those of
    ``gateway_ids`` when given."""
    at = sa.func.coalesce(events.c.true_ms, events.c.at_ms)
    query = (
        sa.select(events.c.gateway_id, events.c.node, sa.func.count())
        .where(events.c.kind == "reboot", events.c.at_ms >= now_ms - 2 * DAY_MS, at >= now_ms - DAY_MS)
        .group_by(events.c.gateway_id, events.c.node)
    )
    if gateway_ids is not None:
        query = query.where(events.c.gateway_id.in_(gateway_ids))
    return {(gw, node): count for gw, node, count in conn.execute(query) if node}


def _affected(found: list[Condition], kiosks: dict[str, Any]) -> None:
    """Each power alert's kiosks affected: its own, and kiosks that fell silent near its start."""
    silences = {c.gateway_id: c.started_ms for c in found if c.kind == "kiosk-silent"}
    for cond in found:
        if cond.kind == "power":
            near = [gw for gw, at in silences.items() if abs(at - cond.started_ms) <= OUTAGE_NEARBY_MS]
            cond.detail["kiosks"] = sorted({cond.gateway_id, *near})


def dumps(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))
