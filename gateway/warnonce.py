"""Logging that warns once about a repeating failure, stays quiet while it lasts, and says when it is over.

An unplugged sensor, a busy store or an absent service manager fails the same way every few seconds for hours:
one WARNING line at the first failure, DEBUG lines while it keeps failing, one WARNING line when it works
again (with how long it was down and how many attempts failed). So an SD card is never filled with the same
line, and the log still says when the trouble began and ended. Standard library only: the lowest layer, used
by the ingest, the kiosk's watchers, the node watch and the systemd notifier.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class WarnOnce:
    """The state of one thing that may fail repeatedly, named ``what`` in ``log``'s lines.

    Call :meth:`failed` at each failure and :meth:`recovered` at each success (cheap when nothing failed).
    ``level``: of the first failure's line (WARNING; ERROR for a failure that is a bug); ``clock``: seconds,
    monotonic (how long the trouble lasted). Safe to share between threads.
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log = log
        self.what = what
        self.level = level
        self.since: float | None = None  # clock() at the first failure of the current trouble, None when fine
        self.failures = 0  # failed attempts in the current trouble
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return self.since is not None

    def failed(self, reason: object, *, exc_info: BaseException | None = None) -> bool:
        """Note a failure: a line at :attr:`level` when it is the first since the last success (with
        ``exc_info``'s traceback, if given), else a DEBUG line. ``reason``: what went wrong (an exception or
        a text). Returns True when it warned."""
        with self._lock:
            self.failures += 1
            first = self.since is None
            if first:
                self.since = self._clock()
        if first:
            self.log.log(self.level, "%s: %s (retrying quietly)", self.what, reason, exc_info=exc_info)
        else:
            self.log.debug("%s: still failing: %s", self.what, reason)
        return first

    def recovered(self, message: str = "back") -> None:
        """Note a success: after a failure, a WARNING ``what: message after N s (K failed attempts)``; else
        nothing."""
        with self._lock:
            if self.since is None:
                return
            down, failures = self._clock() - self.since, self.failures
            self.since = None
            self.failures = 0
        self.log.warning("%s: %s after %.0f s (%d failed attempts)", self.what, message, down, failures)
