"""Every shell script of the project passes shellcheck (installed by `make system-deps`, Debian's package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shell_scripts() -> list[Path]:
    """Tracked files ending in .sh or starting with a sh/bash shebang."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    found = []
    for name in listed:
        path = REPO / name
        if not path.is_file() or ".venv" in path.parts:
            continue
        with path.open("rb") as handle:
            first = handle.readline(100)
        if name.endswith(".sh") or first.startswith((b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash")):
            found.append(path)
    return found


def test_every_shell_script_passes_shellcheck() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: run `make system-deps` as root"
    scripts = shell_scripts()
    names = {p.relative_to(REPO).as_posix() for p in scripts}
    assert {"hardware/install-pi.sh", "hardware/bin/kiosk-browser", "scripts/system-deps.sh"} <= names
    done = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
