"""Who reads a serial port, and handing it over between the ingest and a tool that must own it (node flash).

- A **claim** (:class:`PortClaim`) says which process reads a port: an exclusive ``flock`` on
  ``<data_dir>/run/readers/<port key>``, held for as long as that process has the port open (the ingest's
  reader; ``node monitor`` when no ingest reads the port; ``node flash``). The kernel drops it when the process
  dies, so a claim is never stale. ``node monitor`` asks :func:`is_claimed` to learn whether the ingest reads the
  port, and then shows what the ingest reads (:mod:`gateway.porttap`) instead of taking the port from it: a
  hand-over always has a moment when nobody reads (and the next open flushes what the kernel held), which cost
  a reading at each one.
- A **release request** (:func:`released`) is for a tool that must own the port (mpremote, in ``node flash``):
  it creates ``<data_dir>/run/release/<port key>``; the ingest's reader checks for it at least four times a
  second, closes the port and gives up its claim; the tool waits for the claim (not for a fixed time), holds it
  while it works, and the reader takes the port back once the request is gone and the claim is free.

The port key names the device a path resolves to, so that a relative path, an absolute one and a symlink
(``/dev/serial/by-id/...``, ``/dev/anjungan-node-*``) of the same device meet; a pyserial URL names itself.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway import private
from gateway.errors import AnjunganError

RELEASE_WAIT_S = 10.0  # how long a tool waits for the ingest to let go of a port
POLL_S = 0.05


class PortBusyError(AnjunganError):
    """Another process reads the port and did not let go of it in time."""


def port_key(port: str) -> str:
    """The file name that stands for ``port`` (a device path, relative or absolute, or a pyserial URL)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", port if "://" in port else os.path.realpath(port))


def request_path(data_dir: Path, port: str) -> Path:
    """The release-request file for ``port`` under ``data_dir``."""
    return Path(data_dir) / "run" / "release" / port_key(port)


def claim_path(data_dir: Path, port: str) -> Path:
    """The claim file (locked by the process that reads ``port``) under ``data_dir``."""
    return Path(data_dir) / "run" / "readers" / port_key(port)


def is_release_requested(data_dir: Path, port: str) -> bool:
    return request_path(data_dir, port).exists()


class PortClaim:
    """The claim on one port: :meth:`acquire` (never blocks) and :meth:`release`; idempotent both.

    The key is taken at :meth:`acquire`: a symlink that later leads to another device (a node plugged into
    another USB socket) is claimed again under its new key by :meth:`follow`.
    """

    def __init__(self, data_dir: Path, port: str):
        self.data_dir = Path(data_dir)
        self.port = port
        self.key: str | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the claim; False when another process holds it. Raises OSError when the file cannot be made."""
        if self._fd is not None:
            return True
        path = claim_path(self.data_dir, self.port)
        private.ensure_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, private.FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd, self.key = fd, path.name
        return True

    def follow(self) -> bool:
        """Keep the claim under the port's current key (release and take it again when the key changed);
        answers whether it is held."""
        if self._fd is not None and self.key != port_key(self.port):
            self.release()
        return self.acquire()

    def release(self) -> None:
        fd, self._fd, self.key = self._fd, None, None
        if fd is not None:
            os.close(fd)  # drops the flock

    def __enter__(self) -> PortClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_claimed(data_dir: Path, port: str) -> bool:
    """Whether a process (the ingest, as a rule) reads ``port`` now. Creates nothing when no claim file exists."""
    return is_held(claim_path(data_dir, port))


def is_held(path: Path) -> bool:
    """Whether some process holds an ``flock`` (shared or exclusive) on the file at ``path`` now: an instant's
    exclusive try, let go at once. False when the file does not exist (nothing is created)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the lock just taken
    return False


@contextmanager
def released(data_dir: Path, port: str, timeout_s: float = RELEASE_WAIT_S) -> Iterator[None]:
    """Own ``port`` for the duration of the block: the ingest lets go of it, and takes it back afterwards.

    Returns at once when no process reads the port; else waits until the reader has closed it (its claim
    is free). Creates nothing when ``data_dir`` does not exist (no ingest can be running on it). Raises
    PortBusyError when the port is not let go of within ``timeout_s`` (a monitor reading it, another tool).
    """
    if not Path(data_dir).is_dir():
        yield
        return
    claim = PortClaim(data_dir, port)
    request = request_path(data_dir, port)
    try:
        if not claim.acquire():
            private.write_text(request, f"{os.getpid()}\n")  # 0600 whatever the umask
            deadline = time.monotonic() + timeout_s
            while not claim.acquire():
                if time.monotonic() > deadline:
                    raise PortBusyError(
                        f"{port} is still read by another process after {timeout_s:.0f} s "
                        "(a `node monitor` or another tool?): stop it and try again"
                    )
                time.sleep(POLL_S)
        yield
    finally:
        claim.release()
        request.unlink(missing_ok=True)
