"""Alerts with a lifecycle: open -> acknowledged (by whom, when) -> resolved, and the history of them all.

:func:`run` evaluates the rules (:mod:`.rules`) at one moment (an injected clock in tests, the central's clock
in ``central serve`` and ``central alerts run``): a condition with no unresolved alert opens one; an unresolved
alert whose condition no longer holds is resolved (acknowledged or not). At most one unresolved alert exists per
condition (a unique index, and the evaluation runs under one lock: PostgreSQL's advisory lock, SQLite's write
lock), so several workers evaluating at once open it once. Notifications go out after the commit
(:mod:`.notify`), with the quiet period that keeps a flapping node to one message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync.central.fleet import notify, rules
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import alerts, series

log = logging.getLogger(__name__)
STATES = ("open", "acknowledged", "resolved")
KINDS = ("kiosk-silent", "node-silent", "node-reboots", "power", "water", "rain", "store-full", "clock",
         "dead-letters")  # fmt: skip
_LOCK = 7020514


# The figures of an alert's detail whose extreme over the episode is kept (``detail["peak"]``), and which
# extreme: the highest water and rain, the lowest mains voltage, the most reboots, dead letters, store bytes.
PEAKS: dict[str, Callable[[float, float], float]] = {"water_cm": max, "rain_mm": max, "mains_v": min,
                                                      "reboots_24h": max, "count": max, "store_b": max}  # fmt: skip


def with_peak(before: dict[str, Any] | None, now: dict[str, Any]) -> dict[str, Any]:
    """The detail ``now`` of an alert, with ``peak``: for each figure of :data:`PEAKS` in it, its extreme over
    the episode so far (``before``, the detail kept, holds the earlier extremes). A resolved alert thus shows how
    high the water rose, not where it stood at the last evaluation."""
    peak = dict((before or {}).get("peak") or {})
    for key, pick in PEAKS.items():
        value = now.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            peak[key] = pick(peak[key], value) if isinstance(peak.get(key), int | float) else value
    return {**now, "peak": peak} if peak else dict(now)


# The measurements of an alert's detail whose value when the alert resolves is kept (``detail["resolved"]``):
# a power alert then shows the voltage back, not the 0 V of its last evaluation, beside the episode's lowest.
AT_RESOLUTION = ("mains_v", "water_cm")


def at_resolution(conn: Connection, row: Any, detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` of the alert ``row`` as it resolves, with ``resolved``: for each measurement of
    :data:`AT_RESOLUTION` in it, the node's latest value (``fleet_series.last_value``) now."""
    names = [name for name in AT_RESOLUTION if name in detail]
    if not names or row.node is None:
        return detail
    latest = {
        name: value
        for name, value in conn.execute(
            sa.select(series.c.name, series.c.last_value).where(
                series.c.gateway_id == row.gateway_id, series.c.node == row.node, series.c.name.in_(names)
            )
        )
    }
    return {**detail, "resolved": latest} if latest else detail


class AlertError(Exception):
    """An alert that does not exist or cannot take the action asked (answered 404/409 in the views)."""


@dataclass
class RunReport:
    """What one evaluation did: ids opened and resolved, and the notifications sent (or failed)."""

    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    sent: list[notify.Delivery] = field(default_factory=list)


def run(engine: Engine, now_ms: int, cfg: FleetSettings) -> RunReport:
    """Evaluate, open and resolve alerts at ``now_ms``, then send what is due."""
    report = RunReport()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_LOCK})"))
        holding = rules.evaluate(conn, now_ms, cfg)
        unresolved = {
            row.key: row for row in conn.execute(sa.select(alerts).where(alerts.c.resolved_ms.is_(None)))
        }
        for key, cond in holding.items():
            row = unresolved.get(key)
            if row is None:
                cond.detail = with_peak(None, cond.detail)
                report.opened.append(_open(conn, cond, now_ms))
                continue
            kept = json.loads(row.detail)
            detail = with_peak(kept, cond.detail)
            if kept != detail:
                conn.execute(alerts.update().where(alerts.c.id == row.id).values(detail=rules.dumps(detail)))
        for key, row in unresolved.items():
            if key not in holding:
                detail = at_resolution(conn, row, json.loads(row.detail))
                conn.execute(
                    alerts.update().where(alerts.c.id == row.id).values(state="resolved", resolved_ms=now_ms,
                                                                        detail=rules.dumps(detail))
                )  # fmt: skip
                report.resolved.append(row.id)
    report.sent = notify.send_due(engine, now_ms, cfg)
    return report


def _open(conn: Connection, cond: rules.Condition, now_ms: int) -> int:
    result = conn.execute(
        alerts.insert().values(
            key=cond.key, kind=cond.kind, gateway_id=cond.gateway_id, node=cond.node, state="open",
            started_ms=cond.started_ms, opened_ms=now_ms, detail=rules.dumps(cond.detail),
        )
    )  # fmt: skip
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def acknowledge(conn: Connection, alert_id: int, username: str, now_ms: int) -> dict[str, Any]:
    """Mark an open alert acknowledged by ``username``; answer it as it was before. AlertError when it does
    not exist or is not open."""
    row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertError("no such alert")
    if row.state != "open":
        raise AlertError(f"the alert is {row.state}")
    conn.execute(
        alerts.update()
        .where(alerts.c.id == alert_id)
        .values(state="acknowledged", acked_ms=now_ms, acked_by=username)
    )
    return _as_dict(row)


def _as_dict(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["detail"] = json.loads(out["detail"])
    return out


def listing(conn: Connection, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts newest first: the unresolved ones (``state`` None: open and acknowledged) or those in ``state``."""
    query = sa.select(alerts).order_by(alerts.c.opened_ms.desc(), alerts.c.id.desc()).limit(limit)
    if state is None:
        query = query.where(alerts.c.resolved_ms.is_(None))
    else:
        query = query.where(alerts.c.state == state)
    return [_as_dict(row) for row in conn.execute(query)]


def counts(conn: Connection) -> dict[str, int]:
    """How many alerts are in each state."""
    found: dict[str, int] = dict(
        conn.execute(sa.select(alerts.c.state, sa.func.count()).group_by(alerts.c.state)).all()
    )
    return {state: int(found.get(state, 0)) for state in STATES}


class Evaluator:
    """Runs :func:`run` every ``cfg.alerts_every_s`` seconds in a named thread until :meth:`close`."""

    def __init__(self, engine: Engine, cfg: FleetSettings, clock: Callable[[], float]):
        self.engine, self.cfg, self.clock = engine, cfg, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="anjungan-alerts", daemon=True)

    def start(self) -> Evaluator:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run(self.engine, int(self.clock() * 1000), self.cfg)
            except Exception:  # a database outage must not end the thread: try again next time
                log.exception("alert evaluation failed")
            self._stop.wait(self.cfg.alerts_every_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
