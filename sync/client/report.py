"""What a gateway tells the central about itself and its nodes on each changes request (docs/protocol.md).

:func:`health` gathers the gateway's software version, uptime, free disk, store size against its budget, the
clock (known good or not, and its offset), the age of the oldest record waiting per stream, dead letters, the
sync interval and the kiosk's serta-merta thresholds; :func:`nodes` each node's last hello (boot, firmware,
free memory, RSSI, battery), bad lines, interval and seconds since its last frame. Both are informational: a
value that cannot be read is left out, never a reason to fail the round.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from typing import Any

import gateway
from gateway.store import Store
from gateway.store.health import age_s
from sync import protocol


def uptime_s() -> int:
    """Seconds since the machine booted (``CLOCK_BOOTTIME`` where there is one, else the monotonic clock)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return int(time.clock_gettime(clock))


def _store_bytes(store: Store) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += os.path.getsize(f"{store.path}{suffix}")
    return total


def health(
    store: Store, backlog: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``X-Anjungan-Health`` values: ``backlog`` is :meth:`Store.backlog`'s answer; ``extra`` adds
    ``sync_s``, ``water_alert_cm`` and ``mains_min_v`` (from the gateway's configuration)."""
    now = store.clock.now_ms()
    offset = store.clock_offset()
    out: dict[str, Any] = {
        "version": gateway.__version__,
        "uptime_s": uptime_s(),
        "store_b": _store_bytes(store),
        "budget_b": store.budget_bytes,
        "clock": int(offset is not None),
        "offset_ms": offset,
        "dead": sum(int(info.get("dead_letters") or 0) for info in backlog.values()),
        **extra,
    }
    try:
        disk = shutil.disk_usage(store.path.parent)
        out.update(disk_free_b=disk.free, disk_total_b=disk.total)
    except OSError:
        pass
    for stream, info in backlog.items():
        if info.get("pending") and info.get("oldest_at") is not None:
            out[f"oldest_{stream}_s"] = age_s(int(info["oldest_at"]), now)
    return out


def nodes(store: Store) -> list[dict[str, Any]]:
    """The ``X-Anjungan-Nodes`` values of up to :data:`protocol.NODES_MAX` nodes, most recently seen first."""
    now = store.clock.now_ms()
    rows = sorted(store.nodes(), key=lambda row: -int(row["last_seen"] or 0))[: protocol.NODES_MAX]
    return [
        {
            "node": row["node"],
            "fw": row["fw"],
            "boot": row["boot"],
            "mem": row["mem_free"],
            "rssi": row["rssi"],
            "bat": row["bat_v"],
            "bad": row["bad_lines"],
            "every": row["interval_s"],
            "seen": age_s(int(row["last_seen"]), now),
            "up": row["up_s"],
            "frames": row["frames"],
        }
        for row in rows
    ]


def headers(
    store: Store, backlog: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any]
) -> dict[str, str]:
    """Both headers, ready to send."""
    return {
        protocol.HEADER_HEALTH: protocol.format_health(health(store, backlog, extra)),
        protocol.HEADER_NODES: protocol.format_nodes(nodes(store)),
    }
