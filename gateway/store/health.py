"""Node health: the list behind ``anjungan node list``, the kiosk's status page and the metrics (the
``nodes`` table itself: gateway/store/nodes.py).

``last_seen`` is the wall-clock arrival time of the node's last frame. The wall clock may have been stepped
back since (a Pi without RTC whose clock NTP corrected): a last seen in the future says nothing about how long
ago that was, so its age is unknown (None), never "0 s".
"""

from __future__ import annotations

from gateway.store.clock import STEP_TOLERANCE_MS
from gateway.store.nodes import NodesMixin
from gateway.store.rows import NodeHealth

FPM_WINDOW_MS = 600_000  # frames per minute are counted over the last 10 minutes
FPM_SAMPLE = 1000  # at most this many recent frames are looked at per node


def age_s(then_ms: int, now_ms: int) -> int | None:
    """Whole seconds from ``then_ms`` to ``now_ms`` (wall clock), None when ``then_ms`` lies in the future
    (beyond a step's tolerance): the clock was stepped back since, and the age is unknown."""
    if then_ms - now_ms > STEP_TOLERANCE_MS:
        return None
    return max(0, now_ms - then_ms) // 1000


def is_overdue(last_seen: int, interval_s: float | None, offline_after: float, now_ms: int) -> bool:
    """Whether a node last seen at ``last_seen`` (ms) has missed ``offline_after`` of its ``interval_s`` by
    ``now_ms``; never when its interval is not known yet."""
    if not interval_s:
        return False
    return now_ms - last_seen > offline_after * interval_s * 1000


class HealthMixin(NodesMixin):
    """The nodes' health of :class:`~gateway.store.Store`."""

    def frames_per_minute(self, node_id: int, now_ms: int) -> float:
        """Frames per minute of one node over the last 10 minutes (a walk over the newest frames by id)."""
        # frames stamped in the future (the clock was stepped back since) are of unknown age: not counted
        recent: list[int] = [
            row[0]
            for row in self.reader.execute(
                "SELECT at FROM frames WHERE id >= ? AND node_id = ? AND at BETWEEN ? AND ? ORDER BY id DESC "
                "LIMIT ?",
                (
                    self._first_frame_since(now_ms - FPM_WINDOW_MS),
                    node_id,
                    now_ms - FPM_WINDOW_MS,
                    now_ms + STEP_TOLERANCE_MS,
                    FPM_SAMPLE,
                ),
            )
        ]
        if not recent:
            return 0.0
        if len(recent) == FPM_SAMPLE:  # a fast node: the sample spans less than the window
            span_ms = max(now_ms - min(recent), 1000)
            return len(recent) * 60_000 / span_ms
        return len(recent) * 60_000 / FPM_WINDOW_MS

    def _first_frame_since(self, since_ms: int) -> int:
        """The lowest frame id from which on frames arrived at or after ``since_ms`` (ms since the epoch), by
        bisection over the ids (a frame's id rises with its arrival; a step of the wall clock only blurs the
        edge, and frames out of the window are filtered by their ``at`` anyway). 0 when there are no frames."""
        low, high = self.reader.execute("SELECT min(id), max(id) FROM frames").fetchone()
        if low is None:
            return 0
        high += 1
        while low < high:
            middle = (low + high) // 2
            row = self.reader.execute(
                "SELECT id, at FROM frames WHERE id >= ? ORDER BY id LIMIT 1", (middle,)
            ).fetchone()
            if row is None or row[1] >= since_ms:
                high = middle
            else:
                low = row[0] + 1
        return int(low)

    def node_health(self, offline_after: float = 3, now_ms: int | None = None) -> list[NodeHealth]:
        """Every known node with its health; ``status`` is ``OFFLINE`` when marked so or overdue right now."""
        now_ms = self.clock.now_ms() if now_ms is None else now_ms
        out: list[NodeHealth] = []
        for row in self.nodes():
            overdue = is_overdue(row["last_seen"], row["interval_s"], offline_after, now_ms)
            online = bool(row["online"]) and not overdue
            out.append(
                {
                    "node": row["node"],
                    "status": "online" if online else "OFFLINE",
                    "last_seen": row["last_seen"],
                    "last_seen_s": age_s(row["last_seen"], now_ms),
                    "boot": row["boot"],
                    "fw": row["fw"],
                    "frames_per_min": round(self.frames_per_minute(row["id"], now_ms), 2),
                    "frames": row["frames"],
                    "bad_lines": row["bad_lines"],
                    "interval_s": row["interval_s"],
                    "rssi": row["rssi"],
                    "bat_v": row["bat_v"],
                    "mem_free": row["mem_free"],
                    "up_s": row["up_s"],
                    "port": row["port"],
                }
            )
        return out
