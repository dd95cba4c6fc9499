"""Private files and folders: what holds citizens' data or secrets is readable by its owner only.

The store (unsynced NIKs), the configuration (the central's secret, the operator's password hash) and the
kiosk's session key are created 0600, and every folder the gateway creates (the data folder, ``files``,
``pages``, ``backups``, ``run``, and any missing parent) 0700, by the code itself, whatever the process umask
(a umask can only take permissions away, so the modes are also set explicitly after creation). ``anjungan
doctor`` uses :func:`loose` to flag an existing install whose files were made before this rule.

Standard library only: the lowest layer, usable by every part.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
# What a private file or folder may grant beyond its owner: read (and for a folder, enter) to the service group.
_FILE_LOOSE = stat.S_IRWXO | stat.S_IWGRP | stat.S_IXGRP
_DIR_LOOSE = stat.S_IRWXO | stat.S_IWGRP


def ensure_dir(path: Path) -> Path:
    """Create folder ``path`` 0700, and each missing parent 0700 too (``mkdir -p`` would give the parents the
    umask's mode, e.g. 0755); an existing folder is left as it is. Returns it.

    Raises OSError when it cannot be created.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.is_dir() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # another process made it meanwhile (with this function: 0700)
        os.chmod(folder, DIR_MODE)
    return path


def create_file(path: Path) -> bool:
    """Create an empty file 0600 at ``path`` if none exists (its folder 0700 if missing); True when created.

    Raises OSError when it cannot be created.
    """
    path = Path(path)
    ensure_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as a private file, replacing it atomically; its mode ends 0600.

    Raises OSError when it cannot be written.
    """
    path = Path(path)
    ensure_dir(path.parent)
    part = path.with_name(f".{path.name}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)


def loose(path: Path) -> str | None:
    """Why ``path`` is not private enough (e.g. ``"mode 0644: others can read it"``), or None when it is.

    A file may be 0600 or 0640 (read by the service group); a folder 0700 or 0750. A path that does not
    exist is None (nothing to protect).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    is_dir = stat.S_ISDIR(mode)
    bits = stat.S_IMODE(mode)
    if not bits & (_DIR_LOOSE if is_dir else _FILE_LOOSE):
        return None
    who = "others can " + ("enter or list it" if is_dir else "read it") if bits & stat.S_IRWXO else None
    who = who or "its group can write it"
    wanted = f"{DIR_MODE:04o}" if is_dir else f"{FILE_MODE:04o}"
    return f"mode {bits:04o}: {who} (chmod {wanted} {path})"
