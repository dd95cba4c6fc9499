"""The frame parser against the contract's vectors (the project's copy in tests/vectors/), and a few cases beyond them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import FrameError
from gateway.frame import Frame, encode, parse_line, reading_line

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "frames.json"


def _cases() -> list[dict[str, Any]]:
    return json.loads(VECTORS.read_text())["cases"]


def _as_object(frame: Frame) -> dict[str, Any]:
    obj: dict[str, Any] = {"v": 1, "k": frame.kind, "n": frame.node, "b": frame.boot, "q": frame.seq}
    if frame.kind == "r":
        obj["r"] = frame.values
    obj.update(frame.extra)
    return obj


def test_vectors_cover_valid_and_invalid() -> None:
    cases = _cases()
    assert len(cases) >= 26
    assert {case["valid"] for case in cases} == {True, False}


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_frame_vector(case: dict[str, Any]) -> None:
    line = base64.b64decode(case["line_b64"])
    if case["valid"]:
        assert _as_object(parse_line(line)) == case["frame"]
    else:
        with pytest.raises(FrameError):
            parse_line(line)


def test_encode_round_trips() -> None:
    line = reading_line("dmk-wl-01", 3, 7, {"water_cm": 12.5}, t=1234)
    frame = parse_line(line)
    assert frame.key == ("dmk-wl-01", 3, 7)
    assert frame.values == {"water_cm": 12.5}
    assert frame.extra == {"t": 1234}


@pytest.mark.parametrize(
    "obj",
    [
        {"v": 1, "k": "r", "n": "a", "b": 0, "q": 0, "r": {"x_v": 10**400}},  # beyond a float
        {"v": 1, "k": "r", "n": "a", "b": 0, "q": 0, "r": {}},
        {"v": 1, "k": "r", "n": "a", "b": True, "q": 0, "r": {"x_v": 1}},
        {"v": 1, "k": "e", "n": "a", "b": 0, "q": 0},
        {"v": 1, "k": "x", "n": "a", "b": 0, "q": 0},
    ],
)
def test_invalid_objects_raise_frame_error(obj: dict[str, Any]) -> None:
    with pytest.raises(FrameError):
        parse_line(encode(obj))


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_values_are_refused(constant: bytes) -> None:
    import zlib

    payload = b'{"v":1,"k":"r","n":"a","b":0,"q":0,"r":{"x_v":' + constant + b"}}"
    line = b"@" + payload + b"*" + f"{zlib.crc32(payload):08x}".encode() + b"\n"
    with pytest.raises(FrameError):
        parse_line(line)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
@pytest.mark.parametrize("kind", ["h", "e"])
def test_non_finite_numbers_are_refused_in_any_field(number: bytes, kind: str) -> None:
    """JSON has no NaN or Infinity: not in a measurement, nor in a hello's or error's other fields."""
    import zlib

    payload = (
        b'{"v":1,"k":"' + kind.encode() + b'","n":"a","b":0,"q":0,"msg":"m","x":{"up_s":' + number + b"}}"
    )
    line = b"@" + payload + b"*" + f"{zlib.crc32(payload):08x}".encode() + b"\n"
    with pytest.raises(FrameError, match="(?i)finite|range"):
        parse_line(line)
    fine = payload.replace(number, b"1e300")
    assert parse_line(b"@" + fine + b"*" + f"{zlib.crc32(fine):08x}".encode()).extra["x"]["up_s"] == 1e300


def test_exactly_1024_bytes_is_allowed() -> None:
    base = reading_line("a", 0, 0, {"x_v": 1.0}).rstrip(b"\n")
    pad = 1024 - len(base) - len(',"t":') - 0
    line = reading_line("a", 0, 0, {"x_v": 1.0}, t=int("1" * (pad - 0)) if pad > 0 else 0)
    assert len(line.rstrip(b"\n")) == 1024
    parse_line(line)
    with pytest.raises(FrameError):
        parse_line(reading_line("a", 0, 0, {"x_v": 1.0}, t=int("1" * (pad + 1))))


def test_counters_beyond_sqlite_integer_are_refused() -> None:
    with pytest.raises(FrameError):
        parse_line(reading_line("a", 1 << 63, 0, {"x_v": 1.0}))
    assert parse_line(reading_line("a", (1 << 63) - 1, 0, {"x_v": 1.0})).boot == (1 << 63) - 1
