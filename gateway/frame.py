"""The node frame (contract): ``@<compact JSON>*<crc32 of the JSON bytes, 8 lowercase hex>`` on one line.

:func:`parse_line` finds the frame at the last ``@{`` of a line, checks the CRC over the bytes exactly as
sent, decodes them as UTF-8 (MicroPython's ``json.dumps`` writes non-ASCII text raw), validates the fields and
returns a :class:`Frame`; anything else raises :class:`FrameError` with the reason. Every string of a frame
(keys too) must be encodable as UTF-8: a JSON escape of a lone surrogate (``\ud800``) is refused like invalid
UTF-8 bytes, so that no text a database refuses enters the store (DESIGN.md, "Contract: the node frame").
:func:`encode` is the host-side encoder (the firmware has its own, for MicroPython).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import FrameError

MAX_LINE = 1024
PROTOCOL_VERSION = 1
KINDS = {"r": "reading", "h": "hello", "e": "error"}

_NODE_RE = re.compile(r"[a-z0-9-]{1,32}")
_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_CRC_RE = re.compile(rb"[0-9a-f]{8}")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE_RE = re.compile(rb"\\u[dD][89a-fA-F]")  # the only way JSON text can carry a surrogate


@dataclass(frozen=True)
class Frame:
    """One valid frame. ``values`` holds the measurements of a reading (empty for hello and error)."""

    kind: str  # "r", "h" or "e"
    node: str
    boot: int
    seq: int
    values: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # hello: fw, up_s, mem_free, rssi, bat_v; error: msg; t

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.node, self.boot, self.seq)


_INT_LIMIT = 1 << 63  # what SQLite's INTEGER holds


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_counter(value: Any) -> bool:
    """A boot counter or sequence number: a non-negative integer that SQLite can store."""
    return _is_int(value) and 0 <= value < _INT_LIMIT


def _as_number(value: Any) -> float | None:
    """The value as a finite float, or None (booleans, strings, NaN, infinities and huge integers)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def parse_line(line: bytes) -> Frame:
    """Parse one raw line (with or without its ``\\r\\n``). Raises FrameError saying why it is not a frame."""
    body = _strip_eol(line)
    if len(body) > MAX_LINE:
        raise FrameError(f"line of {len(body)} bytes is over {MAX_LINE}")
    start = body.rfind(b"@{")
    if start < 0:
        raise FrameError("no frame start '@{'")
    star = body.rfind(b"*")
    if star < start:
        raise FrameError("no CRC")
    payload, crc = body[start + 1 : star], body[star + 1 :]
    if not _CRC_RE.fullmatch(crc):
        raise FrameError("CRC is not 8 lower-case hex digits")
    if zlib.crc32(payload) != int(crc, 16):
        raise FrameError("CRC mismatch")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FrameError(f"not UTF-8: byte 0x{payload[err.start]:02x} at {err.start + 1}") from None
    try:
        obj = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError as err:
        raise FrameError(f"not JSON: {err}") from None
    return frame_from_object(obj, check_text=_SURROGATE_ESCAPE_RE.search(payload) is not None)


def _refuse_constant(name: str) -> float:
    """``json.loads`` hook: ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259, section 6)."""
    raise FrameError(f"non-finite number {name} (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    """``json.loads`` hook: a JSON number too large for a float (``1e999``) is refused, never infinity."""
    number = float(text)
    if not math.isfinite(number):
        raise FrameError(f"number {text[:20]} is out of range (not a finite float)")
    return number


def non_finite(value: Any) -> bool:
    """Whether ``value`` holds a non-finite float (NaN, infinity) anywhere (keys and items, at any depth)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(non_finite(item) for item in value)
    return False


def unencodable_text(value: Any) -> str | None:
    """The first string inside ``value`` (keys included, at any depth) that is not encodable as UTF-8.

    Such a string can only come from a JSON escape of a lone surrogate (``"\\ud800"``); it is answered as
    ``repr`` (safe to print and to store), or None when every string is encodable.
    """
    if isinstance(value, str):
        return repr(value) if _SURROGATE_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unencodable_text(key) or unencodable_text(item)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = unencodable_text(item)
            if found:
                return found
    return None


def frame_from_object(obj: Any, *, check_text: bool = True) -> Frame:
    """Validate a decoded frame object (the JSON between ``@`` and ``*``); raises FrameError saying why not.

    ``check_text`` False skips looking for unencodable text (for a caller that knows the JSON held no
    surrogate escape).
    """
    if not isinstance(obj, dict):
        raise FrameError("JSON is not an object")
    bad_text = unencodable_text(obj) if check_text else None
    if bad_text is not None:
        raise FrameError(f"text not encodable as UTF-8 (a lone surrogate): {bad_text}")
    if non_finite(obj):  # JSON has no NaN or Infinity; nothing downstream could send it on
        raise FrameError("a non-finite number (NaN or Infinity): JSON has none")
    if obj.get("v") != PROTOCOL_VERSION or not _is_int(obj.get("v")):
        raise FrameError(f"protocol version {obj.get('v')!r} is not understood")
    kind, node, boot, seq = obj.get("k"), obj.get("n"), obj.get("b"), obj.get("q")
    if kind not in KINDS:
        raise FrameError(f"unknown kind {kind!r}")
    if not isinstance(node, str) or not _NODE_RE.fullmatch(node):
        raise FrameError(f"bad node id {node!r}")
    if not (_is_counter(boot) and _is_counter(seq)):
        raise FrameError("boot and seq must be non-negative integers (below 2**63)")
    values: dict[str, float] = {}
    if kind == "r":
        measurements = obj.get("r")
        if not isinstance(measurements, dict) or not measurements:
            raise FrameError("a reading needs a non-empty 'r' object")
        for name, value in measurements.items():
            if not _NAME_RE.fullmatch(name):
                raise FrameError(f"bad measurement name {name!r}")
            number = _as_number(value)
            if number is None:
                raise FrameError(f"measurement {name} is not a finite number")
            values[name] = number
    extra = {k: v for k, v in obj.items() if k not in {"v", "k", "n", "b", "q", "r"}}
    if kind == "e" and not isinstance(extra.get("msg"), str):
        raise FrameError("an error frame needs a 'msg' string")
    return Frame(kind, node, obj["b"], obj["q"], values, extra)


def encode(frame_obj: dict[str, Any]) -> bytes:
    """Encode a frame object as one line (with ``\\n``): compact JSON, CRC-32 over exactly those bytes.

    Non-ASCII text travels as ``\\uXXXX`` escapes (the parser accepts raw UTF-8 as well).
    """
    payload = json.dumps(frame_obj, separators=(",", ":")).encode("ascii")
    return b"@" + payload + b"*" + f"{zlib.crc32(payload):08x}".encode() + b"\n"


def reading_line(node: str, boot: int, seq: int, values: dict[str, float], **extra: Any) -> bytes:
    """A reading frame's line, for tests, benchmarks and simulations."""
    return encode({"v": PROTOCOL_VERSION, "k": "r", "n": node, "b": boot, "q": seq, "r": values, **extra})
