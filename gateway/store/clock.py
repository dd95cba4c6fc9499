"""The gateway's clocks, and whether the offset learned from the central still holds.

A Pi has no RTC: its wall clock starts wherever it was left and jumps when NTP steps it. The wall clock is
therefore never trusted to be monotonic:

- Durations and order come from elsewhere: the node's own (boot, q) order, the order of arrival, and the
  monotonic clock (``CLOCK_MONOTONIC`` on Linux: one clock for every process, counted from boot, slewed by NTP
  exactly like the wall clock but never stepped).
- The offset to the central's clock (learned by the sync side, kept in meta) is valid only in the *clock
  epoch* it was learned in: the same boot and the same ``wall - monotonic`` difference, give or take
  :data:`STEP_TOLERANCE_MS`. A step of the wall clock (NTP, a person with ``date -s``) or a reboot changes the
  epoch, and from that moment :func:`learned_offset` answers None ("clock not known good") in every process
  at once, until the sync side learns the offset again. No process has to tell another.

Tests inject a :class:`SystemClock` built from their own callables instead of changing the system clock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STEP_TOLERANCE_MS = 2000  # a change of wall - monotonic beyond this is a step (a leap second is 1000 ms)
META_KEYS = ("clock_offset_ms", "clock_checked_at", "clock_base_ms", "clock_boot")
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def read_boot_id() -> str:
    """The kernel's id of this boot (Linux), or "" where there is none (then a reboot is not detected)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class SystemClock:
    """The clocks one process reads: ``wall`` (unix seconds, may jump), ``monotonic`` (seconds, never steps;
    system-wide, so that processes compare their readings) and ``boot_id`` (changes at every boot)."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    boot_id: Callable[[], str] = field(default=read_boot_id)

    def now_ms(self) -> int:
        """The wall clock in ms since the epoch (what the store stamps records with as ``at``)."""
        return int(self.wall() * 1000)

    def base_ms(self) -> int:
        """``wall - monotonic`` in ms: constant while the wall clock is not stepped (the clock epoch)."""
        return round((self.wall() - self.monotonic()) * 1000)


SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class Learned:
    """The offset the sync side learned, with the epoch it holds in (from meta)."""

    offset_ms: int | None
    checked_at: int | None
    base_ms: int | None
    boot: str | None

    def holds(self, base_ms: int, boot: str) -> bool:
        """Whether the offset applies to a stamp taken in the epoch ``base_ms`` of boot ``boot``."""
        return (
            self.offset_ms is not None
            and self.base_ms is not None
            and self.boot == boot
            and abs(base_ms - self.base_ms) <= STEP_TOLERANCE_MS
        )


def read_learned(conn: sqlite3.Connection) -> Learned:
    """What meta holds about the learned offset (every field None when it was never learned)."""
    rows = dict(
        conn.execute(
            f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(META_KEYS))})", META_KEYS
        ).fetchall()
    )

    def number(key: str) -> int | None:
        value = rows.get(key)
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    return Learned(
        number("clock_offset_ms"), number("clock_checked_at"), number("clock_base_ms"), rows.get("clock_boot")
    )


def learned_offset(conn: sqlite3.Connection, clock: SystemClock = SYSTEM_CLOCK) -> int | None:
    """The learned offset (ms to add to the wall clock) if it holds right now, else None (not known good).

    An offset stored without its epoch (by a version that did not record one) does not hold: it is learned
    again.
    """
    learned = read_learned(conn)
    return learned.offset_ms if learned.holds(clock.base_ms(), clock.boot_id()) else None
