"""The gateway's clock, corrected by what the central says the time is (a Pi has no RTC).

The offset is learned from ``GET /api/v1/time``: the central's time is taken to be the midpoint of the
request's round trip, and a measurement is trusted only when the round trip is short (``MAX_RTT_S``). It is
kept in meta ``clock_offset_ms`` (ms to add to the gateway's clock) with ``clock_checked_at``; every record the
store writes afterwards carries that offset, so the central keeps both the gateway's time and the corrected one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.store import Store
from sync.client.errors import TransientError
from sync.client.transport import Central

MAX_RTT_S = 2.0
SAMPLES = 3
RECHECK_S = 3600.0  # learn again after an hour (a Pi's clock drifts, NTP may have stepped it)


@dataclass
class Measurement:
    offset_ms: int
    rtt_s: float


class Clock:
    """The corrected clock of one store; ``now()`` is what request timestamps use."""

    def __init__(self, store: Store):
        self.store = store
        self.offset_ms = store.clock_offset()

    def now(self) -> float:
        return time.time() + (self.offset_ms or 0) / 1000

    @property
    def known(self) -> bool:
        return self.offset_ms is not None

    def due(self) -> bool:
        checked = self.store.get_meta("clock_checked_at")
        return self.offset_ms is None or checked is None or time.time() - int(checked) / 1000 > RECHECK_S

    def learn(self, central: Central) -> Measurement:
        """Measure the offset (best of a few round trips) and store it; raises TransientError if not trusted."""
        best: Measurement | None = None
        for _ in range(SAMPLES):
            sample = measure(central)
            if best is None or sample.rtt_s < best.rtt_s:
                best = sample
            if sample.rtt_s < MAX_RTT_S / 10:
                break
        assert best is not None
        if best.rtt_s >= MAX_RTT_S:
            raise TransientError(f"the central's time is not trusted: round trip {best.rtt_s:.1f} s")
        self.set(best.offset_ms)
        return best

    def set(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms
        self.store.set_meta("clock_offset_ms", str(offset_ms))
        self.store.set_meta("clock_checked_at", str(int(time.time() * 1000)))

    def correct_from(self, server_time: float) -> None:
        """A skew refusal told us the central's time: adopt it (less exact than :meth:`learn`)."""
        self.set(round((server_time - time.time()) * 1000))


def measure(central: Central) -> Measurement:
    sent = time.time()
    answer = central.get_json("/api/v1/time", signed=False)
    received = time.time()
    server = answer.get("time")
    if not isinstance(server, int | float) or isinstance(server, bool):
        raise TransientError("the central's /time answer has no time")
    midpoint = (sent + received) / 2
    return Measurement(round((float(server) - midpoint) * 1000), received - sent)
