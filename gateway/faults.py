"""Fault points: named places where the crash tests have this process killed, so that a kill lands exactly there.

A crash test sets ``ANJUNGAN_FAULT=<point>:<n>[,<point>:<n>...]`` in the environment of the process it starts;
the n-th time (counting from 1) that process passes :func:`point` with that name, it sends itself SIGKILL.
``<point>:<n>:hang`` instead blocks the thread passing the point for good (the process and its other threads
live on): a stuck main loop, which systemd's watchdog must catch (gateway/sdnotify.py). The variable is read
once, at import; it is never set outside the tests, and then a point costs one dict lookup.

The points a process may pass are listed in :data:`POINTS`, so that a test naming an unknown point fails at once
instead of waiting for a kill that never comes.
"""

from __future__ import annotations

import os
import signal
import threading

from gateway.errors import ConfigError

ENV = "ANJUNGAN_FAULT"

POINTS: dict[str, str] = {
    "uplink.before_post": "a batch is encoded and about to be sent",
    "uplink.answered": "the central committed and answered a batch; the gateway has not recorded the ack",
    "uplink.acked": "the ack is recorded; the submissions' personal data is not purged yet",
    "downlink.applied": "a page of changes and its cursor are committed",
    "sync.round": "a sync round starts",
    "store.migration": "`anjungan upgrade` is about to apply one more migration in its transaction",
    "ingest.loop": "an iteration of the ingest's main loop (the one that feeds the watchdog)",
    "kiosk.request": "a request reaches the kiosk's server, before any page cache",
}


def _parse(value: str) -> dict[str, int]:
    """``"a:2,b:1:hang"`` -> ``{"a": 2, "b": 1}``; raises ConfigError for an unknown point or a bad count."""
    plan: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, count = item.partition(":")
        count, _, action = count.partition(":")
        if name not in POINTS or not count.isdigit() or int(count) < 1 or action not in ("", "hang"):
            raise ConfigError(
                f"{ENV}: {item!r} is not <point>:<n>[:hang], with a point among {sorted(POINTS)}"
            )
        plan[name] = int(count)
    return plan


def _hangs(value: str) -> set[str]:
    """The points of ``value`` that block instead of killing (``<point>:<n>:hang``)."""
    return {item.strip().split(":")[0] for item in value.split(",") if item.strip().endswith(":hang")}


_plan = _parse(os.environ.get(ENV, ""))
_hang = _hangs(os.environ.get(ENV, ""))
_passed: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    """Mark that this process passes fault point ``name``; kills the process (SIGKILL), or blocks this thread
    for good (``:hang``), if the plan says so."""
    if name not in _plan:
        return
    with _lock:
        _passed[name] = _passed.get(name, 0) + 1
        due = _passed[name] == _plan[name]
    if due and name in _hang:
        threading.Event().wait()
    elif due:
        os.kill(os.getpid(), signal.SIGKILL)
