"""One serial port, read in a thread: lines to a sink, replug noticed at once, hand-over on a release request.

A USB serial device vanishes when its node is unplugged (or resets its USB chip) and comes back under the same
path (``/dev/ttyACM0``, a ``/dev/serial/by-id/...`` link). While the device path is missing the reader polls
it every :data:`WATCH_S` seconds and opens it as soon as it is back, so the node's first frames are read.
Only a device that is there but cannot be opened (busy, no permission) is retried with growing pauses; a
pause ends early when the device is replaced.

With a data folder (the ingest), the reader claims the port while it reads it (:mod:`gateway.portlock`: a
monitor then shows what the reader reads instead of taking the port), copies every line it reads to the
port's monitors (:mod:`gateway.porttap`), and lets go of the port for a tool that asks for it (``node flash``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

import serial

from gateway import portlock
from gateway.backoff import Backoff
from gateway.errors import StoreError
from gateway.ingest.lines import LineSplitter
from gateway.ingest.sink import LineSink
from gateway.porttap import TapSender
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2
RELEASE_CHECK_S = 0.25  # the hand-over contract asks for at least two checks a second
READ_MAX = 65536
WATCH_S = 0.1  # how often a missing (or failing) device path is looked at


class SerialReader:
    """Reads ``port`` (a device path or a pyserial URL such as ``loop://``) until :meth:`close`.

    With ``data_dir`` set, the reader claims the port before it opens it (and waits while another process
    holds the claim), serves the port's tap, and honours release requests (:mod:`gateway.portlock`): it
    closes the port and gives up its claim while one exists, and takes both back afterwards. Without it the
    reader does none of that.
    """

    def __init__(
        self,
        port: str,
        sink: LineSink,
        *,
        baud: int = 115200,
        data_dir: Path | None = None,
        backoff: Backoff | None = None,
    ):
        self.port = port
        self.sink = sink
        self.baud = baud
        self.data_dir = data_dir
        self.backoff = backoff or Backoff(0.5, 30.0)  # 0.5 s doubling to 30 s
        self.trouble = WarnOnce(log, f"serial {port}")
        self.splitter = LineSplitter()
        self.is_open = threading.Event()  # for tests and the health view: the port is open right now
        self.opens = 0
        self.bytes_read = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_release_check = 0.0
        self.claim = portlock.PortClaim(data_dir, port) if data_dir is not None else None
        self.tap = TapSender(data_dir, port) if data_dir is not None else None
        self._waiting_for_claim = False

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> SerialReader:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"anjungan-serial {self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end (it ends within a read timeout, or once the store takes its last lines)."""
        self._stop.set()

    def close(self, timeout: float | None = None) -> bool:
        """Stop and wait for the thread (at most ``timeout`` s); True once it has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SerialReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.tap is not None:
                self.tap.close()
            if self.claim is not None:
                self.claim.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._release_requested(force=True):
                self._let_go()
                continue
            if not self._claimed():
                self._stop.wait(WATCH_S)
                continue
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as err:
                self.trouble.failed(f"cannot open: {_reason(err)}")
                self._pause()
                continue
            self.trouble.recovered("open again")
            self.backoff.reset()
            try:
                self._read(port)
            except (serial.SerialException, OSError) as err:
                self.trouble.failed(f"lost: {_reason(err)}")
                self._close(port)
                self._pause()
            except StoreError as err:  # the store's writer was closed under us: the ingest is stopping
                if not self._stop.is_set():
                    log.error("serial %s: %s", self.port, err)
                    self._close(port)
                    self._pause()
            except Exception:  # a bug must not end the reader: log it, take a pause, go on
                log.exception("serial %s: reader error", self.port)
                self._close(port)
                self._pause()
            finally:
                self._close(port)

    @property
    def device_path(self) -> str | None:
        """The file system path of the port, None for a pyserial URL (``loop://``, ``socket://…``)."""
        return self.port if "://" not in self.port else None

    def _device(self) -> tuple[int, int, int] | None:
        """What the device path leads to now (device, inode, device number), None while it is missing."""
        path = self.device_path
        assert path is not None
        try:
            st = os.stat(path)  # follows a symlink: a link to a vanished device is missing too
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_rdev)

    def _pause(self) -> None:
        """Wait before the next attempt to open the port.

        A pyserial URL: the next backoff pause. A device path: while it is missing, until it is back (looked
        at every WATCH_S s, however long it stays away); while it is there, the next backoff pause, ended
        early when the device goes and comes back or is replaced by another.
        """
        pause = self.backoff.next()
        if self.device_path is None:
            self._stop.wait(pause)
            return
        before = self._device()
        deadline = time.monotonic() + pause
        while not self._stop.wait(WATCH_S):
            if self._release_requested():  # a tool asks for the port: give up the claim at once
                return
            now = self._device()
            if now is None:  # gone: no deadline, watch for its return
                deadline = float("inf")
                if before is not None:
                    log.info("serial %s: the device is gone; watching for it", self.port)
                    before = None
                continue
            if now != before:  # back, or another device behind the path: open it at once
                self.backoff.reset()
                return
            if time.monotonic() >= deadline:
                return

    def _open(self) -> serial.SerialBase:
        exclusive = True if self.port.startswith("/") else None
        port = serial.serial_for_url(
            self.port, baudrate=self.baud, timeout=READ_TIMEOUT_S, exclusive=exclusive, do_not_open=True
        )
        port.open()
        self.opens += 1
        self.is_open.set()
        log.info("serial %s: open", self.port)
        return port

    def _close(self, port: serial.SerialBase) -> None:
        self.is_open.clear()
        self.splitter.reset()
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()

    def _read(self, port: serial.SerialBase) -> None:
        """Read until stopped or asked to release the port; a port error raises."""
        while not self._stop.is_set():
            if self._release_requested():
                log.warning("serial %s: released on request", self.port)
                return
            data = port.read(min(max(port.in_waiting, 1), READ_MAX))
            if not data:
                continue
            self.bytes_read += len(data)
            lines = self.splitter.feed(data)
            if lines:
                self.sink.handle(lines)
                if self.tap is not None:
                    self.tap.send(lines)

    # -- claim and hand-over ---------------------------------------------------------------------------------
    def _claimed(self) -> bool:
        """Hold the port's claim (under its current key); False while another process holds it."""
        if self.claim is None:
            return True
        try:
            held = self.claim.follow()
        except OSError as err:
            self.trouble.failed(f"cannot claim the port: {_reason(err)}")
            return False
        if held and self._waiting_for_claim:
            log.warning("serial %s: the other reader let go; reading again", self.port)
        elif not held and not self._waiting_for_claim:
            log.warning(
                "serial %s: another process reads the port (node monitor, node flash); waiting", self.port
            )
        self._waiting_for_claim = not held
        return held

    def _let_go(self) -> None:
        """The port is closed: give up the claim while the release request lasts."""
        if self.claim is not None:
            self.claim.release()
        self._wait_for_release_end()

    def _release_requested(self, force: bool = False) -> bool:
        if self.data_dir is None:
            return False
        now = time.monotonic()
        if not force and now < self._next_release_check:
            return False
        self._next_release_check = now + RELEASE_CHECK_S
        return portlock.is_release_requested(self.data_dir, self.port)

    def _wait_for_release_end(self) -> None:
        assert self.data_dir is not None
        while not self._stop.wait(WATCH_S):
            if not portlock.is_release_requested(self.data_dir, self.port):
                log.warning("serial %s: taking the port back", self.port)
                return


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__
