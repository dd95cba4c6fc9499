"""A clock the tests step: the wall clock moves only when told, the monotonic clock never goes back."""

from __future__ import annotations

import time

from gateway.store.clock import SystemClock


class SteppedClock:
    """Wall time = the real time + ``shift_s`` (a Pi's clock that is off, then stepped by NTP); monotonic
    time is the real monotonic clock (which no step moves); ``boot`` plays the kernel's boot id."""

    def __init__(self, shift_s: float = 0.0, boot: str = "boot-1"):
        self.shift_s = shift_s
        self.boot = boot

    def wall(self) -> float:
        return time.time() + self.shift_s

    def step(self, seconds: float) -> None:
        """The wall clock jumps by ``seconds`` (NTP stepping it); the monotonic clock does not."""
        self.shift_s += seconds

    def system(self) -> SystemClock:
        return SystemClock(wall=self.wall, monotonic=time.monotonic, boot_id=lambda: self.boot)
