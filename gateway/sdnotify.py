"""systemd's notify protocol: tell the service manager we are ready, and feed its watchdog from a main loop.

The protocol (sd_notify(3), "NOTIFY_SOCKET" in systemd.exec(5)) is one datagram of ``KEY=VALUE`` lines sent to
the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@`` names an abstract socket). With ``WatchdogSec=``
in the unit, systemd sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``) and kills the service (SIGABRT) when no
``WATCHDOG=1`` arrives within that time; ``Restart=always`` then starts it again (systemd.service(5),
"WatchdogSec="). :func:`ping` is called once per iteration of each service's main loop, so that a stuck loop
stops the pings even while the process's other threads live on; it sends at most one datagram every half
watchdog period, as sd_watchdog_enabled(3) advises.

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


class Notifier:
    """Sends notifications to ``address`` (an AF_UNIX datagram socket path, or ``""`` for none).

    ``watchdog_s`` is the watchdog period in seconds (None: no watchdog); :meth:`ping` sends ``WATCHDOG=1`` at
    most every ``watchdog_s / 2`` by ``clock`` (seconds, monotonic). Errors never reach the caller: a service
    manager that went away must not stop the service; a failure is logged once, and so is its end
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
        """Feed the watchdog if half its period has passed since the last ping; True when a ping was sent."""
        if self.watchdog_s is None or not self.address:
            return False
        with self._lock:
            now = self._clock()
            if now < self._next_ping:
                return False
            self._next_ping = now + self.watchdog_s / 2
        return self.send("WATCHDOG=1")


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


def stopping() -> bool:
    return notifier().stopping()
