"""What a gateway tells the central about itself and its nodes on each changes request (docs/protocol.md).

:func:`health` gathers the gateway's software version, uptime, free disk, store size against its budget, the
clock (known good or not, and its offset), the age of the oldest record waiting per stream, dead letters, the
sync interval and the kiosk's serta-merta thresholds; :func:`nodes` each node's last hello (boot, firmware,
free memory, RSSI, battery), bad lines, interval and seconds since its last frame. Both are informational: a
value that cannot be read is left out, never a reason to fail the round.

:class:`Reporter` sends them only when they say something new (docs/protocol.md, "Changes"): when what they
report changed beyond the values that move on their own (uptime, ages and which streams wait, seconds since a
node's frame, the counters and a hello's readings, which the events stream carries anyway), or when the last report is
:data:`REPORT_EVERY_ROUNDS` rounds old (5 minutes at a round a minute), or :data:`REPORT_MAX_INTERVALS` sync
intervals old when rounds are rarer than that.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
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


REPORT_EVERY_ROUNDS = 5  # a report goes at least every this many rounds (changes requests), changed or not
REPORT_MAX_INTERVALS = 15  # and at least every this many sync intervals, however rare the rounds
LATE_INTERVALS = 2  # a node is late (a change worth a report) once this many of its intervals passed silent


def steady(report: Mapping[str, Any], node_reports: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """What a report says that does not move on its own: the health's values but for ``uptime_s``, the store's
    size and the disk's free bytes (they change a little with every write: the periodic report renews them) and
    the ages ``oldest_<stream>_s`` (which streams have something waiting comes and goes with each commit of the
    ingest, and every request tells it anyway, in ``X-Anjungan-Backlog``: counting it sent the report with
    every other round, 0.35 MB a day of a 2 MB budget, bench/field.py); per node its id, firmware, boot count,
    interval, bad lines and whether it is late (silent for :data:`LATE_INTERVALS` of its intervals). Two reports
    with the same answer tell the central nothing new but the time."""
    moving = {"uptime_s", "store_b", "disk_free_b"}
    health_part = tuple(
        sorted(
            (key, value)
            for key, value in report.items()
            if key not in moving and not key.startswith("oldest_")
        )
    )
    nodes_part = tuple(
        (
            node["node"], node.get("fw"), node.get("boot"), node.get("every"), node.get("bad"),
            node.get("seen") is not None and node.get("seen", 0) > LATE_INTERVALS * (node.get("every") or 60),
        )
        for node in node_reports
    )  # fmt: skip
    return health_part, nodes_part


class Reporter:
    """Which changes requests carry the health headers: the first of a process, then one whose report differs
    from the last one sent in its :func:`steady` part, or once the last sent is ``every_rounds`` rounds old (the
    calls of :meth:`headers` since), or ``max_age_s`` old (seconds of ``monotonic()``; the service passes
    :data:`REPORT_EVERY_ROUNDS` and :data:`REPORT_MAX_INTERVALS` sync intervals). A report counts as sent
    only once its request was answered (:meth:`sent`), so a report lost with its request goes the next round.

    The central keeps the last report and when it came (its ``reported_ms``); a node's last frame is also told
    by its readings, which every round sends, so the report need not be renewed each round (docs/protocol.md).
    """

    def __init__(self, every_rounds: int, max_age_s: float, monotonic: Callable[[], float] = time.monotonic):
        self.every_rounds = every_rounds
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._last: tuple[tuple[Any, ...], float] | None = None  # (steady part, monotonic s) of the last sent
        self._rounds = 0  # calls of headers() since the last report sent
        self._pending: tuple[Any, ...] | None = None

    def headers(
        self, store: Store, backlog: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any]
    ) -> dict[str, str]:
        """The two headers when a report is due, else ``{}``; call :meth:`sent` when the request was answered."""
        values, node_values = health(store, backlog, extra), nodes(store)
        key = steady(values, node_values)
        self._pending = None
        self._rounds += 1
        last = self._last
        if (
            last is not None
            and last[0] == key
            and self._rounds < self.every_rounds
            and self._monotonic() - last[1] < self.max_age_s
        ):
            return {}
        self._pending = key
        return {
            protocol.HEADER_HEALTH: protocol.format_health(values),
            protocol.HEADER_NODES: protocol.format_nodes(node_values),
        }

    def sent(self) -> None:
        """The request that carried the headers of the last :meth:`headers` was answered."""
        if self._pending is not None:
            self._last = (self._pending, self._monotonic())
            self._rounds = 0
            self._pending = None
