"""Every firmware module compiles with mpy-cross (MicroPython's own compiler) and stays small."""

import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
SOURCES = sorted(FIRMWARE.glob("*.py"))
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


def test_firmware_has_the_expected_modules():
    names = {p.stem for p in SOURCES}
    assert {"boot", "main", "app", "frame", "bme280", "pzem", "sonar", "rain", "mqtt", "ring"} <= names


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_compiles_with_mpy_cross(source: Path, tmp_path: Path):
    out = tmp_path / (source.stem + ".mpy")
    proc = subprocess.run(
        [str(MPY_CROSS), "-o", str(out), str(source)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:2] == b"M\x06"  # .mpy format version 6


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_module_is_small_and_device_friendly(source: Path):
    text = source.read_text()
    assert len(text.splitlines()) <= 250
    for banned in ("import typing", "from typing", "dataclass", "from __future__"):
        assert banned not in text


def test_mpy_cross_rejects_cpython_only_syntax(tmp_path: Path):
    """The check above is meaningful: mpy-cross refuses syntax MicroPython lacks."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(a, /):\n    return a\n")
    proc = subprocess.run([str(MPY_CROSS), str(bad)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
