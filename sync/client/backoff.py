"""Full-jitter exponential backoff that honours the central's Retry-After.

A whole regency's kiosks come back together after a power or link cut: each waits a random time in
``[0, min(cap, base * 2**attempt)]`` so that they do not reconnect in step, and never less than what the
central asked for (itself capped, so that a wrong header cannot park a kiosk for a day).
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, *, base_s: float = 1.0, cap_s: float = 900.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self, retry_after: float | None = None) -> float:
        """The time to wait before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        delay = self._rng.uniform(0, ceiling)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.cap_s))
        return delay

    def reset(self) -> None:
        self.attempt = 0
