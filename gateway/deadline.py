"""One overall deadline for work that may hang in many small steps (a network answer dripping in byte by byte).

Per-operation timeouts (requests' connect and read timeouts) bound each step, not their sum: a server that sends
one byte every few seconds never trips them. :func:`within` bounds the whole. Used by ``anjungan doctor``'s
network checks and by ``anjungan clock`` (gateway/clockset.py). Standard library only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


class DeadlineExceeded(TimeoutError):
    """The work of :func:`within` had not finished within ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__(f"no whole answer within {seconds:.0f} s (an answer that arrives too slowly)")
        self.seconds = seconds


def within(seconds: float, work: Callable[[], _T]) -> _T:
    """``work()``'s result, or DeadlineExceeded (a TimeoutError) when it has not finished within ``seconds`` (it is then left to
    end in a daemon thread: the command goes on and exits without waiting for it). Errors of ``work`` are
    raised here."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as err:  # handed to the caller
            outcome.append((False, err))

    thread = threading.Thread(target=run, name="anjungan-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise DeadlineExceeded(seconds)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
