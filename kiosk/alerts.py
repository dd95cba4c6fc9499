"""Serta-merta alerts: urgent announcements from the central and local sensor alerts (flood, mains power).

A sensor alert is evaluated from the latest readings whenever a page or the banner asks (at most every couple
of seconds per process, and by the serve command's watcher thread): when the water level reaches its threshold
or the mains voltage drops below its minimum, the alert turns on, and an ``alert`` event is recorded exactly
once per crossing (``alert_cleared`` when it ends). Readings older than ``stale_minutes`` neither raise nor
clear an alert, and neither do readings whose age is unknown (stamped in the future: the wall clock was
stepped back since they arrived). Which reading is the latest comes from the node's own order, not from
wall-clock stamps (the store's ``latest``), so a reading stamped while the clock was far ahead never hides
the ones that follow. The water alert clears with a small hysteresis so that a level hovering at the threshold does
not flap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cachetools import TLRUCache

from gateway.store import Store
from gateway.store.health import age_s

WATER = "water_cm"
MAINS = "mains_v"
WATER_HYSTERESIS_CM = 5.0


@dataclass(frozen=True)
class Alert:
    key: str  # "water:<node>", "power:<node>" or "announcement:<id>"
    kind: str  # "water", "power", "announcement"
    node: str | None
    value: float | None
    limit: float | None
    since_ms: int | None
    title: str = ""  # announcements only
    body: str = ""


@dataclass(frozen=True)
class Thresholds:
    water_cm: float
    mains_min_v: float
    stale_ms: int


def _parse_moment(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.astimezone()


def active_announcements(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Announcements whose window contains now, urgent ones first, newest first."""
    now = now or datetime.now(UTC)
    items = []
    for item in store.content("announcement"):
        starts, ends = _parse_moment(item.get("starts")), _parse_moment(item.get("ends"))
        if (starts and starts > now) or (ends and ends < now):
            continue
        items.append(item)
    items.sort(key=lambda a: (not a.get("urgent"), -int(a.get("updated_at") or 0), a["id"]))
    return items


def _wanted(reading: Mapping[str, Any], was_active: bool, limits: Thresholds, now_ms: int) -> bool | None:
    """Whether the alert of this reading should be on; None when the reading says nothing (stale, or of an
    unknown age)."""
    age = age_s(reading["at"], now_ms)
    if age is None or age * 1000 > limits.stale_ms:
        return None
    if reading["name"] == WATER:
        bound = limits.water_cm - (WATER_HYSTERESIS_CM if was_active else 0.0)
        return bool(reading["value"] >= bound)
    return bool(reading["value"] < limits.mains_min_v)


def evaluate(store: Store, limits: Thresholds) -> list[Alert]:
    """Update the sensor alerts' states from the latest readings (recording events) and return the active ones.

    An active alert shows the latest value (a rising or falling river, not the level at the crossing); the
    event recorded at the crossing keeps the value that crossed."""
    states = store.alert_states()
    now = store.clock.now_ms()
    latest: dict[str, float] = {}
    for reading in store.latest():
        if reading["name"] not in (WATER, MAINS):
            continue
        kind = "water" if reading["name"] == WATER else "power"
        key = f"{kind}:{reading['node']}"
        latest[key] = reading["value"]
        was_active = bool(states.get(key, {}).get("active"))
        wanted = _wanted(reading, was_active, limits, now)
        if wanted is None or wanted == was_active:
            continue
        limit = limits.water_cm if kind == "water" else limits.mains_min_v
        data = {"kind": kind, "measurement": reading["name"], "value": reading["value"], "limit": limit}
        store.alert_transition(key, wanted, data, reading["node"])
    alerts = []
    for key, state in sorted(store.alert_states().items()):
        if state.get("active"):
            kind, _, node = key.partition(":")
            value = latest.get(key, state.get("value"))
            alerts.append(Alert(key, kind, node, value, state.get("limit"), state.get("since")))
    return alerts


def current(store: Store, limits: Thresholds) -> list[Alert]:
    """Urgent announcements and active sensor alerts, sensor alerts first."""
    alerts = evaluate(store, limits)
    for item in active_announcements(store):
        if item.get("urgent"):
            alerts.append(Alert(f"announcement:{item['id']}", "announcement", None, None, None, None,
                                str(item.get("title") or ""), str(item.get("body") or "")))  # fmt: skip
    return alerts


def _alerts_until(_key: str, entry: tuple[float, list[Alert]], now: float) -> float:
    return now + entry[0]


class AlertCache:
    """``current()`` at most once per ``ttl`` seconds per process (the banner is polled by every screen).

    A cachetools ``TLRUCache`` of one entry (its life is the ``ttl`` of the call that made it), used under a
    lock that is held while ``current()`` runs: requests arriving meanwhile wait for its answer instead of
    asking the store too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: TLRUCache[str, tuple[float, list[Alert]], float] = TLRUCache(
            1, _alerts_until, time.monotonic
        )

    def get(self, store: Store, limits: Thresholds, ttl: float) -> list[Alert]:
        """The current alerts, at most ``ttl`` seconds old."""
        with self._lock:
            entry = self._cache.get("alerts")
            if entry is None:
                entry = (ttl, current(store, limits))
                self._cache["alerts"] = entry  # not kept at all when ttl <= 0
            return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
