"""Handing a serial port over between the ingest and a technician's tool (flash, monitor).

mpremote and the monitor open a port exclusively. A tool that needs a port the ingest may hold creates a
*release request* file for it (:func:`released`); the ingest's serial reader checks :func:`is_release_requested`
at least twice a second, closes the port while the request exists and takes the port back once it is gone.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway import private


def request_path(data_dir: Path, port: str) -> Path:
    """The release-request file for ``port`` (a device path or URL) under ``data_dir``.

    A device path names the device it resolves to, so that a relative path, an absolute one and a symlink
    (``/dev/serial/by-id/...``) of the same device ask for the same hand-over; a pyserial URL names itself.
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "_", port if "://" in port else os.path.realpath(port))
    return Path(data_dir) / "run" / "release" / name


def is_release_requested(data_dir: Path, port: str) -> bool:
    return request_path(data_dir, port).exists()


@contextmanager
def released(data_dir: Path, port: str, settle_s: float = 1.0) -> Iterator[None]:
    """Ask the ingest to let go of ``port`` for the duration of the block, then give it back."""
    path = request_path(data_dir, port)
    private.ensure_dir(path.parent)
    path.write_text(f"{os.getpid()}\n")
    try:
        time.sleep(settle_s)  # the reader polls at least every 0.5 s
        yield
    finally:
        path.unlink(missing_ok=True)
