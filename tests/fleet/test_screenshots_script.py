"""scripts/fleet-screenshots.py runs as a program and writes the files the README shows."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fleet-screenshots.py"


def test_the_script_is_executable_and_writes_the_readmes_pictures() -> None:
    assert os.access(SCRIPT, os.X_OK) and SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    names = runpy.run_path(str(SCRIPT))["PAGES"]
    shown = set(re.findall(r"docs/images/(fleet-[a-z-]+\.png)", (ROOT / "README.md").read_text()))
    assert shown and shown <= set(names), shown - set(names)
    assert all((ROOT / "docs" / "images" / name).exists() for name in shown)
    usage = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env={**os.environ,
                           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"})  # fmt: skip
    assert usage.returncode == 1 and "fleet-kelengkapan.png" in usage.stderr
