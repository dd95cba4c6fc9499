"""Growing pauses between attempts of something that keeps failing: one rule for every part.

The n-th pause after a success (n = 0, 1, 2, …) has the ceiling ``min(cap_s, base_s * factor**n)``. Without
jitter the pause is that ceiling; with ``jitter=True`` it is drawn uniformly from ``[0, ceiling]`` ("full
jitter", as in AWS's architecture blog "Exponential Backoff And Jitter", 2015), so that many clients cut off
together do not come back in step. A pause the other side asked for (an HTTP ``Retry-After``) is a floor,
itself capped at ``cap_s`` so that a wrong header cannot park a client for a day. :meth:`Backoff.reset` after
a success.

The parts use it with their own figures:

- a serial port that cannot be opened (gateway/ingest/serial_reader.py): 0.5 s doubling to 30 s, no jitter;
- a supervised part that exited (gateway/supervise.py): 1 s doubling to 60 s, no jitter;
- the sync's rounds after a failure (sync/client/service.py): ``[sync] backoff_base_s`` doubling to
  ``backoff_cap_s`` (1 s to 900 s by default), full jitter, the central's Retry-After as a floor;
- the central's SMS to citizens (sync/central/sms/worker.py): ``sms_backoff_base_s`` doubling to
  ``sms_backoff_cap_s`` (60 s to 3600 s by default), no jitter (the next attempt's time is stored).

Why not a library: ``backoff`` and ``tenacity`` wrap a call in their own retry loop (a decorator,
``Retrying``), and their wait strategies live inside it (tenacity's ``wait_random_exponential`` is a function
of the loop's ``RetryCallState`` and draws from the global ``random``; ``backoff.expo`` is a generator without
a reset). Here the waits sit inside loops that do other things meanwhile (watch a device path, tend other
children, honour Retry-After, stop on a signal) and need only the next pause. Standard library only: the
lowest layer, used by every part.
"""

from __future__ import annotations

import random


def pause_after(failures: int, base_s: float, cap_s: float, *, factor: float = 2.0) -> float:
    """The pause in seconds after ``failures`` failed attempts in a row, without jitter.

    0 failures: no pause (0.0); then ``base_s``, ``base_s * factor``, ... at most ``cap_s``. For things that
    keep their count of failures in a table row (a dead letter sent again, a file to upload) rather than in a
    :class:`Backoff` held by a loop; the same rule as :meth:`Backoff.ceiling`.
    """
    if failures <= 0:
        return 0.0
    try:
        grown = base_s * factor ** (failures - 1)
    except OverflowError:  # beyond a float long after the cap was reached
        return cap_s
    return min(cap_s, grown)


class Backoff:
    """Exponential pauses in seconds: ``base_s``, times ``factor`` after each failure, at most ``cap_s``.

    ``jitter``: draw each pause uniformly from ``[0, ceiling]`` (full jitter) with ``rng`` (a
    :class:`random.Random`; a new one when None). :attr:`attempt` counts the pauses handed out since the last
    :meth:`reset`.
    """

    def __init__(
        self,
        base_s: float,
        cap_s: float,
        *,
        factor: float = 2.0,
        jitter: bool = False,
        rng: random.Random | None = None,
    ):
        if base_s < 0 or cap_s < 0 or factor < 1:
            raise ValueError("a backoff needs base_s >= 0, cap_s >= 0 and factor >= 1")
        self.base_s = base_s
        self.cap_s = cap_s
        self.factor = factor
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The longest the next pause can be, in seconds (the pause itself without jitter)."""
        return pause_after(self.attempt + 1, self.base_s, self.cap_s, factor=self.factor)

    def next(self, retry_after_s: float | None = None) -> float:
        """The pause in seconds before the next attempt; each call counts one more failure.

        ``retry_after_s``: what the other side asked for (seconds, e.g. HTTP ``Retry-After``, RFC 9110
        10.2.3): the pause is at least that, capped at ``cap_s``; None or <= 0 asks for nothing.
        """
        ceiling = self.ceiling()
        self.attempt += 1
        pause = self._rng.uniform(0, ceiling) if self.jitter else ceiling
        if retry_after_s is not None and retry_after_s > 0:
            pause = max(pause, min(retry_after_s, self.cap_s))
        return pause

    def reset(self) -> None:
        """A success: the next pause is ``base_s`` (at most) again."""
        self.attempt = 0
