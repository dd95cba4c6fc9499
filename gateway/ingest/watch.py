"""Node health inside the ingest: learn each node's interval, mark nodes offline and online.

A node's interval comes from its hello when the hello carries ``interval_s``; otherwise it is learned from
the spacing of its frames: the median of the last gaps between consecutive frames of one boot, divided by
how many sequence numbers each gap spans (so a lost frame does not double the interval). The node clock
``t`` (ms since boot) is used when frames carry it, so that frames delivered in a burst (an MQTT backlog)
still give the right spacing; arrival gaps under 0.1 s are ignored for the same reason.

An interval a node declares is believed only when it is a finite number of seconds in (0, ``MAX_INTERVAL_S``]
(a day); any other value is ignored (logged) and the interval is learned from the spacing instead. A learned
interval is kept within [``MIN_INTERVAL_S``, ``MAX_INTERVAL_S``] as well, so no node's numbers can break the
watch; and one node whose check fails is logged (once per kind of failure) while the others are checked.
"""

from __future__ import annotations

import collections
import logging
import math
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.frame import Frame
from gateway.store import Store, db
from gateway.store import health as store_health
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

GAPS_KEPT = 15
GAPS_NEEDED = 3
MIN_ARRIVAL_GAP_S = 0.1
MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 86_400  # a day: a node silent longer than three days is offline whatever it declares


@dataclass
class _Learner:
    boot: int = -1
    seq: int = -1
    at_ms: int = 0
    t_ms: int | None = None
    heard_ms: int = 0  # arrival of the node's latest frame of any kind, in this process
    hello_interval: float | None = None
    gaps: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=GAPS_KEPT))

    def interval(self) -> float | None:
        if self.hello_interval:
            return self.hello_interval
        if len(self.gaps) < GAPS_NEEDED:
            return None
        return statistics.median(self.gaps)


class IntervalLearner:
    """Fed with every frame the readers see (any thread); answers each node's interval in seconds."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Learner] = {}
        self._lock = threading.Lock()

    def saw(self, frames: Sequence[Frame], at_ms: int | None = None) -> None:
        at_ms = db.now_ms() if at_ms is None else at_ms
        with self._lock:
            for frame in frames:
                self._saw(frame, at_ms)

    def _saw(self, frame: Frame, at_ms: int) -> None:
        state = self._nodes.setdefault(frame.node, _Learner())
        state.heard_ms = max(state.heard_ms, at_ms)
        hello_interval = frame.extra.get("interval_s") if frame.kind == "h" else None
        if hello_interval is not None:
            declared = _declared_interval(hello_interval)
            if declared is None:
                log.warning("node %s: ignoring the declared interval_s %.40r (not a number of seconds in "
                            "(0, %d])", frame.node, hello_interval, MAX_INTERVAL_S)  # fmt: skip
            state.hello_interval = declared
        t_ms = frame.extra.get("t")
        t_ms = t_ms if isinstance(t_ms, int) and not isinstance(t_ms, bool) else None
        if frame.boot == state.boot and frame.seq > state.seq:
            steps = frame.seq - state.seq
            if t_ms is not None and state.t_ms is not None and t_ms > state.t_ms:
                state.gaps.append((t_ms - state.t_ms) / 1000 / steps)
            elif (at_ms - state.at_ms) / 1000 >= MIN_ARRIVAL_GAP_S:
                state.gaps.append((at_ms - state.at_ms) / 1000 / steps)
        if frame.boot != state.boot or frame.seq > state.seq:
            state.boot, state.seq, state.at_ms, state.t_ms = frame.boot, frame.seq, at_ms, t_ms

    def heard_ms(self, node: str) -> int:
        """When this process last received a frame of ``node`` (ms since the epoch; 0: not yet). The store's
        ``last_seen`` follows only at the frame's commit, up to ``[gateway] commit_interval_s`` later."""
        with self._lock:
            state = self._nodes.get(node)
            return state.heard_ms if state else 0

    def interval(self, node: str) -> int | None:
        """The node's interval in whole seconds (at least 1), None while not known."""
        with self._lock:
            state = self._nodes.get(node)
            seconds = state.interval() if state else None
        if seconds is None or not math.isfinite(seconds):
            return None
        return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, math.ceil(min(seconds, MAX_INTERVAL_S))))


def _declared_interval(value: object) -> float | None:
    """A node's declared ``interval_s`` as seconds when it is a finite number in (0, MAX_INTERVAL_S]."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return seconds if math.isfinite(seconds) and 0 < seconds <= MAX_INTERVAL_S else None


class NodeWatch:
    """A thread that every ``every_s`` saves learned intervals and marks nodes offline/online."""

    def __init__(
        self, store: Store, learner: IntervalLearner, *, offline_after: float = 3, every_s: float = 1.0
    ):
        self.store = store
        self.learner = learner
        self.offline_after = offline_after
        self.every_s = every_s
        self.started_ms = db.now_ms()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: dict[str, WarnOnce] = {}  # node -> its failing health check, logged once

    def start(self) -> NodeWatch:
        if self._thread is None:
            self.started_ms = db.now_ms()
            self._thread = threading.Thread(target=self._run, name="anjungan-node-watch", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception:  # the watch must outlive a busy or failing store
                log.exception("node health check failed")

    def check(self, now_ms: int | None = None) -> None:
        """One pass over the nodes (also callable directly, e.g. from tests)."""
        now_ms = db.now_ms() if now_ms is None else now_ms
        for node, last_seen, online, stored_interval in self.store.watched_nodes():
            try:
                self._check_node(node, last_seen, online, stored_interval, now_ms)
            except Exception as err:  # one node's trouble never stops the watch of the others
                trouble = self._failing.setdefault(node, WarnOnce(log, f"node {node}", level=logging.ERROR))
                trouble.failed(f"health check failed: {type(err).__name__}: {err}", exc_info=err)
            else:
                ended = self._failing.pop(node, None)
                if ended is not None:
                    ended.recovered("health check works again")

    def _check_node(
        self, node: str, last_seen: int, online: int, stored_interval: int | None, now_ms: int
    ) -> None:
        """Save the node's learned interval; mark it offline or online again when its silence says so."""
        interval = self.learner.interval(node)
        if interval is not None and interval != stored_interval:
            self.store.set_node_interval(node, interval)
        interval = interval or stored_interval
        # heard but not yet committed (the writer gathers frames for up to commit_interval_s): alive all the same
        last_seen = max(last_seen, self.learner.heard_ms(node))
        # a node cannot be heard while the ingest is down: count its silence from our start at the earliest
        silent_since = max(last_seen, self.started_ms)
        overdue = store_health.is_overdue(silent_since, interval, self.offline_after, now_ms)
        if overdue and online:
            silent_s = (now_ms - last_seen) // 1000
            log.warning("node %s: OFFLINE (silent %d s, interval %s s)", node, silent_s, interval)
            self.store.mark_node(node, False, {"last_seen": last_seen, "interval_s": interval})
        elif not online and not store_health.is_overdue(last_seen, interval, self.offline_after, now_ms):
            log.warning("node %s: online again", node)
            self.store.mark_node(node, True, {"last_seen": last_seen, "interval_s": interval})
