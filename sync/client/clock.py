"""The gateway's clock, corrected by what the central says the time is (a Pi has no RTC).

The offset is learned from ``GET /api/v1/time``: the central's time is taken to be the midpoint of the
request's round trip, and a measurement is trusted only when the round trip is short (``MAX_RTT_S``). It is
kept in meta ``clock_offset_ms`` (ms to add to the gateway's clock) with ``clock_checked_at`` and the clock
epoch it holds in (``clock_base_ms`` = wall - monotonic, ``clock_boot``); every record the store writes in that
epoch carries the offset, so the central keeps both the gateway's time and the corrected one.

The wall clock is not trusted to be monotonic (see :mod:`gateway.store.clock`): when it is stepped (NTP after
boot, a person) or the gateway reboots, the offset stops holding in every process at once, records are
stamped "clock not known good" (offset null), and this side drops the offset (recording a ``clock_step``
event with the size of the step) and learns it again at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.store import Store
from gateway.store.clock import SystemClock
from sync.client.errors import TransientError
from sync.client.transport import CentralLink

log = logging.getLogger(__name__)

MAX_RTT_S = 2.0
SAMPLES = 3
RECHECK_S = 3600.0  # learn again after an hour (a Pi's clock drifts)


@dataclass
class Measurement:
    offset_ms: int
    rtt_s: float


class Clock:
    """The corrected clock of one store; ``now()`` is what request timestamps use.

    ``clock`` (default: the store's) gives the wall and monotonic clocks; tests inject their own.
    """

    def __init__(self, store: Store, clock: SystemClock | None = None):
        self.store = store
        self.system = clock or store.clock
        self.offset_ms = store.clock_offset()
        self.dropped = False  # a step was seen and the offset not learned again since

    def now(self) -> float:
        """Unix seconds, corrected by the offset while it holds (the wall clock alone once it does not)."""
        self.check()
        return self.system.wall() + (self.offset_ms or 0) / 1000

    @property
    def known(self) -> bool:
        return self.offset_ms is not None

    def check(self) -> bool:
        """Drop the offset when it no longer holds (the wall clock stepped, or a reboot); True when this call
        dropped it. The step is recorded as a ``clock_step`` event (it travels to the central)."""
        if self.offset_ms is None:
            return False
        holding = self.store.clock_offset()
        if holding is not None:
            self.offset_ms = holding  # the same, or what another process learned since
            return False
        learned = self.store.learned_clock()
        step_ms = None if learned.base_ms is None else self.system.base_ms() - learned.base_ms
        log.warning(
            "the wall clock was stepped (%s) or the gateway rebooted: the offset to the central's clock "
            "(%+d ms) is dropped and learned again",
            "unknown size" if step_ms is None else f"{step_ms:+d} ms",
            self.offset_ms,
        )
        dropped, self.offset_ms, self.dropped = self.offset_ms, None, True
        self.store.drop_clock_offset()
        self.store.add_event("clock_step", {"step_ms": step_ms, "dropped_offset_ms": dropped})
        return True

    def due(self) -> bool:
        """Whether the offset must be learned (again): never learned, no longer holding, or an hour old.

        The age is measured on the wall clock, which is sound because the offset holds only while the wall
        clock has not been stepped since it was learned.
        """
        self.check()
        if self.offset_ms is None:
            return True
        checked = self.store.learned_clock().checked_at
        return checked is None or abs(self.system.now_ms() - checked) / 1000 > RECHECK_S

    def learn(self, central: CentralLink) -> Measurement:
        """Measure the offset (best of a few round trips) and store it; raises TransientError if not trusted."""
        self.dropped = False
        best: Measurement | None = None
        for _ in range(SAMPLES):
            sample = measure(central, self.system)
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
        """Store ``offset_ms`` as learned now, in the current clock epoch (one transaction)."""
        values = {
            "clock_offset_ms": str(offset_ms),
            "clock_checked_at": str(self.system.now_ms()),
            "clock_base_ms": str(self.system.base_ms()),
            "clock_boot": self.system.boot_id(),
        }
        self.store.save_clock_offset(values)
        self.offset_ms = offset_ms
        self.dropped = False

    def correct_from(self, server_time: float) -> None:
        """A skew refusal told us the central's time: adopt it (less exact than :meth:`learn`)."""
        self.set(round((server_time - self.system.wall()) * 1000))


def measure(central: CentralLink, clock: SystemClock) -> Measurement:
    """One round trip to ``/time``: the offset against its midpoint; the round trip timed on the monotonic
    clock. A step of the wall clock during the round trip makes it untrusted (TransientError)."""
    base = clock.base_ms()
    sent, sent_mono = clock.wall(), clock.monotonic()
    answer = central.get_json("/api/v1/time", signed=False)
    received, received_mono = clock.wall(), clock.monotonic()
    server = answer.get("time")
    if not isinstance(server, int | float) or isinstance(server, bool):
        raise TransientError("the central's /time answer has no time")
    if abs(clock.base_ms() - base) > 1000:
        raise TransientError("the wall clock was stepped while the central's time was asked: not trusted")
    midpoint = (sent + received) / 2
    return Measurement(round((float(server) - midpoint) * 1000), received_mono - sent_mono)
