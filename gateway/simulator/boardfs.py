"""The board's filesystem: a host directory seen as the board's flash, through a MicroPython-like ``os``."""

from __future__ import annotations

import errno
import os
import posixpath
import types
from pathlib import Path
from typing import Any

ERRNO_NAMES = {
    errno.EPERM: "EPERM", errno.ENOENT: "ENOENT", errno.EIO: "EIO", errno.EBADF: "EBADF",
    errno.EAGAIN: "EAGAIN", errno.ENOMEM: "ENOMEM", errno.EACCES: "EACCES", errno.EEXIST: "EEXIST",
    errno.ENODEV: "ENODEV", errno.EISDIR: "EISDIR", errno.EINVAL: "EINVAL", errno.ENOSPC: "ENOSPC",
    errno.ENOTDIR: "ENOTDIR", errno.ENOTEMPTY: "ENOTEMPTY", errno.ETIMEDOUT: "ETIMEDOUT",
    errno.ECONNRESET: "ECONNRESET", errno.ECONNREFUSED: "ECONNREFUSED", errno.EHOSTUNREACH: "EHOSTUNREACH",
}  # fmt: skip


class BoardFS:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.cwd = "/"

    def host_path(self, path: Any) -> Path:
        """Map a board path (absolute or relative to the board's cwd) inside the root directory."""
        if isinstance(path, bytes):
            path = path.decode()
        board = posixpath.normpath(posixpath.join(self.cwd, str(path) or "."))
        return self.root.joinpath(*[p for p in board.split("/") if p and p != ".."])

    def open(self, path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        host = self.host_path(path)
        if host.is_dir():
            raise OSError(errno.EISDIR, "EISDIR")
        return open(host, mode, *args, **kwargs)  # noqa: SIM115 - the board's code closes it

    def module(self) -> types.ModuleType:
        """The ``os`` module seen by code running on the board."""
        m = types.ModuleType("os")
        fs = self

        def ilistdir(path: str = ""):
            host = fs.host_path(path or ".")
            if not host.is_dir():
                raise OSError(errno.ENOENT if not host.exists() else errno.ENOTDIR, "")
            for entry in sorted(host.iterdir()):
                is_dir = entry.is_dir()
                yield (entry.name, 0x4000 if is_dir else 0x8000, 0, 0 if is_dir else entry.stat().st_size)

        def stat(path: str) -> tuple[int, ...]:
            st = os.stat(fs.host_path(path))
            mode = 0x4000 if fs.host_path(path).is_dir() else 0x8000
            size = 0 if mode == 0x4000 else st.st_size
            mtime = int(st.st_mtime)
            return (mode, 0, 0, 0, 0, 0, size, mtime, mtime, mtime)

        def chdir(path: str) -> None:
            if not fs.host_path(path).is_dir():
                raise OSError(errno.ENOENT, "")
            fs.cwd = posixpath.normpath(posixpath.join(fs.cwd, path))

        m.ilistdir = ilistdir  # type: ignore[attr-defined]
        m.listdir = lambda path="": [e[0] for e in ilistdir(path)]  # type: ignore[attr-defined]
        m.stat = stat  # type: ignore[attr-defined]
        m.mkdir = lambda path: os.mkdir(fs.host_path(path))  # type: ignore[attr-defined]
        m.remove = lambda path: os.remove(fs.host_path(path))  # type: ignore[attr-defined]
        m.unlink = m.remove  # type: ignore[attr-defined]
        m.rmdir = lambda path: os.rmdir(fs.host_path(path))  # type: ignore[attr-defined]
        m.rename = lambda a, b: os.replace(fs.host_path(a), fs.host_path(b))  # type: ignore[attr-defined]
        m.getcwd = lambda: fs.cwd  # type: ignore[attr-defined]
        m.chdir = chdir  # type: ignore[attr-defined]
        m.sync = lambda: None  # type: ignore[attr-defined]
        m.urandom = os.urandom  # type: ignore[attr-defined]
        m.statvfs = lambda path="/": (4096, 4096, 512, 400, 400, 0, 0, 0, 0, 255)  # type: ignore[attr-defined]
        m.uname = lambda: ("esp32", "esp32", "1.24.0", "v1.24.0 (simulated)", "ESP32 module (simulated)")  # type: ignore[attr-defined]
        m.sep = "/"  # type: ignore[attr-defined]
        return m


def format_exception_line(exc: BaseException) -> str:
    """The last line of a MicroPython traceback for ``exc``, e.g. ``OSError: [Errno 2] ENOENT``."""
    if isinstance(exc, OSError):
        code = exc.errno if exc.errno is not None else (exc.args[0] if exc.args else None)
        if isinstance(code, int):
            name = ERRNO_NAMES.get(code)
            return f"OSError: [Errno {code}] {name}" if name else f"OSError: {code}"
        return "OSError: " + " ".join(str(a) for a in exc.args)
    name = type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        return f"KeyError: {exc.args[0]!r}"
    return f"{name}: {exc}" if str(exc) else f"{name}: "
