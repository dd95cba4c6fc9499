"""One serial port, read in a thread: lines to a sink, replug with backoff, hand-over on a release request."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import serial

from gateway import portlock
from gateway.ingest.backoff import Backoff, QuietTrouble
from gateway.ingest.lines import LineSplitter
from gateway.ingest.sink import LineSink

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2
RELEASE_CHECK_S = 0.25  # the hand-over contract asks for at least two checks a second
READ_MAX = 65536


class SerialReader:
    """Reads ``port`` (a device path or a pyserial URL such as ``loop://``) until :meth:`close`.

    With ``data_dir`` set, the reader honours release requests (:mod:`gateway.portlock`): it closes the port
    while one exists and opens it again afterwards. Without it (the monitor) it never lets go.
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
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.trouble = QuietTrouble(log, f"serial {port}")
        self.splitter = LineSplitter()
        self.is_open = threading.Event()  # for tests and the health view: the port is open right now
        self.opens = 0
        self.bytes_read = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_release_check = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> SerialReader:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"anjungan-serial {self.port}", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SerialReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self._release_requested(force=True):
                self._wait_for_release_end()
                continue
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as err:
                self.trouble.failed(f"cannot open: {_reason(err)}")
                self._stop.wait(self.backoff.next())
                continue
            self.trouble.recovered("open again")
            self.backoff.reset()
            try:
                self._read(port)
            except (serial.SerialException, OSError) as err:
                self.trouble.failed(f"lost: {_reason(err)}")
                self._stop.wait(self.backoff.next())
            except Exception:  # a bug must not end the reader: log it, take a pause, go on
                log.exception("serial %s: reader error", self.port)
                self._stop.wait(self.backoff.next())
            finally:
                self._close(port)

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

    # -- hand-over -------------------------------------------------------------------------------------------
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
        while not self._stop.wait(RELEASE_CHECK_S):
            if not portlock.is_release_requested(self.data_dir, self.port):
                log.warning("serial %s: taking the port back", self.port)
                return


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__
