"""Growing pauses between attempts, and logging that warns once about a repeating failure."""

from __future__ import annotations

import logging
import time


class Backoff:
    """Exponential pauses: ``first``, doubled each failure, at most ``cap`` seconds; :meth:`reset` on success."""

    def __init__(self, first: float = 0.5, cap: float = 30.0):
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        pause = self._next
        self._next = min(self._next * 2, self.cap)
        return pause

    def reset(self) -> None:
        self._next = self.first


class QuietTrouble:
    """Warns at the first failure of something, stays quiet (debug) while it keeps failing, says when it is back."""

    def __init__(self, log: logging.Logger, what: str):
        self.log = log
        self.what = what
        self.since: float | None = None
        self.failures = 0

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, reason: str) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s: %s (retrying quietly)", self.what, reason)
        else:
            self.log.debug("%s: still failing: %s", self.what, reason)

    def recovered(self, message: str = "back") -> None:
        if self.since is None:
            return
        down = time.monotonic() - self.since
        self.log.warning("%s: %s after %.0f s (%d failed attempts)", self.what, message, down, self.failures)
        self.since = None
        self.failures = 0
