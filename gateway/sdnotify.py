"""systemd's notify protocol: tell the service manager we are ready, and feed its watchdog from a main loop.

The protocol (sd_notify(3), "NOTIFY_SOCKET" in systemd.exec(5)) is one datagram of ``KEY=VALUE`` lines sent to
the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract socket). With ``WatchdogSec=``
in the unit, systemd sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``) and kills the service (SIGABRT) when no
``WATCHDOG=1`` arrives within that time; ``Restart=always`` then starts it again (systemd.service(5),
"WatchdogSec="). :func:`ping` is called once per iteration of each service's main loop, so that a stuck loop
stops the pings even while the process's other threads live on, and a loop's waits (an idle interval, a
back-off after a failure) go through :func:`wait`, which pings while it waits: a loop that waits is not stuck,
however long its settings make the wait.

Pacing: sd_watchdog_enabled(3) advises a ping at least every half period. :meth:`Notifier.ping` sends at most one
datagram every :data:`PING_SPACING` of the period (not every half: a loop pinging every ``p`` seconds then leaves
at most ``period * PING_SPACING + p`` between two datagrams, where a half-period spacing left up to
``period / 2 + p``, more than the period once a wait or a round took longer than half of it), and
:meth:`Notifier.wait` wakes at least every :data:`WAIT_SLICE` of the period: a waiting loop's pings are at most
``period * (PING_SPACING + WAIT_SLICE)`` = 3/8 of the period apart.

Without ``$NOTIFY_SOCKET`` (a shell, the tests, ``anjungan run``) every call does nothing. Why not a library: the
protocol is one datagram; PyPI's ``sdnotify`` has had no release since 2017 and no watchdog pacing, and
``systemd-python`` needs libsystemd's headers to build. Standard library only:
the lowest layer, used by the ingest, the kiosk and the sync loops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

PING_SPACING = 1 / 8  # at most one WATCHDOG=1 per this fraction of the watchdog period
WAIT_SLICE = 1 / 4  # a wait pings at least once per this fraction of the watchdog period


class Notifier:
    """Sends notifications to ``address`` (an AF_UNIX datagram socket path, or ``""`` for none).

    ``watchdog_s`` is the watchdog period in seconds (None: no watchdog); :meth:`ping` sends ``WATCHDOG=1`` at
    most every ``watchdog_s * PING_SPACING`` by ``clock`` (seconds, monotonic; :meth:`wait` measures with it
    too). Errors never reach the caller: a service manager that went away must not stop the service; the first
    failure is logged once, and so is its end
    (:mod:`gateway.warnonce`).
    """

    def __init__(
        self, address: str, watchdog_s: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_s = watchdog_s
        self._clock = clock
        self._next_ping = float("-inf")
        self._trouble = WarnOnce(log, f"service manager at {address}")
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """The notifier systemd's environment describes (sd_watchdog_enabled(3): a WATCHDOG_PID that is not
        this process's means the watchdog is someone else's)."""
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        if pid and pid != str(os.getpid()):
            watchdog_s = None
        return cls(environ.get("NOTIFY_SOCKET", ""), watchdog_s)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        """Send one datagram of ``fields`` (``"KEY=VALUE"``); True when it was sent."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as err:
            self._trouble.failed(f"cannot notify: {err}")
            return False
        self._trouble.recovered("notified again")
        return True

    def ready(self, status: str = "") -> bool:
        """Start-up is complete (``Type=notify`` units wait for this)."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def ping(self) -> bool:
        """Feed the watchdog unless the last ping was less than ``watchdog_s * PING_SPACING`` ago; True when a
        ping was sent."""
        if self.watchdog_s is None or not self.address:
            return False
        with self._lock:
            now = self._clock()
            if now < self._next_ping:
                return False
            self._next_ping = now + self.watchdog_s * PING_SPACING
        return self.send("WATCHDOG=1")

    def wait(self, seconds: float, wait: Callable[[float], object]) -> bool:
        """Wait ``seconds`` (by the notifier's clock) with ``wait`` (``threading.Event.wait`` or alike: it waits
        up to the seconds it is given and answers true to end the whole wait early), pinging the watchdog before
        each slice of at most ``watchdog_s * WAIT_SLICE``; True when ``wait`` ended it early (a stop was asked).

        Without a watchdog it is one call of ``wait``.
        """
        if self.watchdog_s is None or not self.address:
            return bool(wait(seconds))
        end = self._clock() + seconds
        while True:
            self.ping()
            left = end - self._clock()
            if left <= 0:
                return False
            if wait(min(left, self.watchdog_s * WAIT_SLICE)):
                return True


_notifier: Notifier | None = None


def notifier() -> Notifier:
    """This process's notifier, read from the environment on first use."""
    global _notifier
    if _notifier is None:
        _notifier = Notifier.from_environ()
    return _notifier


def ready(status: str = "") -> bool:
    """Tell systemd that start-up is complete (see :meth:`Notifier.ready`)."""
    return notifier().ready(status)


def ping() -> bool:
    """Feed systemd's watchdog; call once per iteration of the service's main loop (see :meth:`Notifier.ping`)."""
    return notifier().ping()


def wait(seconds: float, wait: Callable[[float], object]) -> bool:
    """Wait while feeding systemd's watchdog; call for every wait of a main loop (see :meth:`Notifier.wait`)."""
    return notifier().wait(seconds, wait)


def stopping() -> bool:
    return notifier().stopping()
