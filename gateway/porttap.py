"""A tap on a serial port: the lines its reader reads, copied live to ``node monitor`` sessions.

The reader of a port (the ingest, as a rule) stores every line; a monitor only wants to see them. So the
monitor never takes the port: it makes a FIFO ``<data_dir>/run/tap/<port key>.<pid>`` (0600) and the reader
writes each line it reads into every FIFO of its port (:class:`TapSender`), without ever waiting: a line is
at most 1,100 bytes, under ``PIPE_BUF``, so each write is whole or not at all, and a monitor that falls behind
misses lines on its screen only (the store has them all). A FIFO whose monitor is gone is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import time
from collections.abc import Sequence
from pathlib import Path

from gateway import private
from gateway.ingest.lines import LineSplitter
from gateway.portlock import port_key

SCAN_S = 0.25  # how often a reader looks for new monitors of its port


def tap_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "run" / "tap"


class TapSender:
    """Used by a port's reader thread: :meth:`send` each batch of lines; :meth:`close` at the end."""

    def __init__(self, data_dir: Path, port: str):
        self.folder = tap_dir(data_dir)
        self.port = port
        self.dropped = 0  # lines a monitor was too slow for (shown nowhere; stored anyway)
        self._fds: dict[str, int] = {}
        self._next_scan = 0.0

    def send(self, lines: Sequence[bytes]) -> None:
        """Write ``lines`` (without their ``\\n``) to every monitor of the port; never blocks or raises."""
        now = time.monotonic()
        if now >= self._next_scan:
            self._next_scan = now + SCAN_S
            self._scan()
        for name, fd in list(self._fds.items()):
            for line in lines:
                try:
                    os.write(fd, line + b"\n")
                except BlockingIOError:
                    self.dropped += 1
                except OSError:  # EPIPE: the monitor is gone
                    self._forget(name)
                    break

    def _scan(self) -> None:
        prefix = port_key(self.port) + "."
        try:
            names = {n for n in os.listdir(self.folder) if n.startswith(prefix)}
        except OSError:
            names = set()
        for name in set(self._fds) - names:
            self._forget(name)
        for name in names - set(self._fds):
            path = self.folder / name
            try:
                self._fds[name] = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as err:
                if err.errno == errno.ENXIO:  # nobody reads it: a monitor that died
                    with contextlib.suppress(OSError):
                        path.unlink()

    def _forget(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for name in list(self._fds):
            self._forget(name)


class TapListener:
    """Used by ``node monitor``: a FIFO for ``port`` under ``data_dir``; :meth:`read` the lines as they come.

    Call :meth:`follow` now and then: when the port's path comes to lead to another device (a replug into
    another USB socket), the FIFO moves to the port's new key. Raises OSError when the FIFO cannot be made.
    """

    def __init__(self, data_dir: Path, port: str):
        self.folder = private.ensure_dir(tap_dir(data_dir))
        self.port = port
        self.splitter = LineSplitter()
        self.key = ""
        self.path: Path | None = None
        self._read_fd = self._hold_fd = -1
        self.follow()

    def follow(self) -> None:
        key = port_key(self.port)
        if key == self.key:
            return
        self._close()
        path = self.folder / f"{key}.{os.getpid()}"
        path.unlink(missing_ok=True)
        os.mkfifo(path, private.FILE_MODE)
        os.chmod(path, private.FILE_MODE)
        self._read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        # our own writer end: without one, a read after the reader closed its end would see end-of-file
        self._hold_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.key, self.path = key, path

    def read(self, timeout_s: float) -> list[bytes]:
        """The complete lines that arrived within ``timeout_s`` (an empty list if none)."""
        readable, _, _ = select.select([self._read_fd], [], [], timeout_s)
        if not readable:
            return []
        try:
            data = os.read(self._read_fd, 65536)
        except BlockingIOError:
            return []
        return self.splitter.feed(data)

    def _close(self) -> None:
        for fd in (self._read_fd, self._hold_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._hold_fd = -1
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
        self.splitter.reset()

    def close(self) -> None:
        self._close()
        self.key = ""

    def __enter__(self) -> TapListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
