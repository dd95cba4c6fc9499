"""The informational headers a gateway adds to ``GET /api/v1/changes``: its backlog per stream, its documents'
files, its own health and its nodes' (docs/protocol.md, "Changes"). Not covered by the signature and
forward-compatible: a key or value the central does not understand is left out, a header it cannot read is
ignored, an older gateway that sends none is served as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.vocabulary import STREAMS
from sync.protocol.validation import NODE_RE

# Informational, on GET /changes: what the gateway still has to send, e.g. "submissions=0,events=2,readings=950"
HEADER_BACKLOG = "X-Anjungan-Backlog"


def format_backlog(pending: Mapping[str, int]) -> str:
    """The ``X-Anjungan-Backlog`` header's value: ``stream=count`` for each stream, comma-separated."""
    return ",".join(f"{stream}={int(pending.get(stream, 0))}" for stream in STREAMS)


def parse_backlog(text: str | None) -> dict[str, int] | None:
    """The counts of an ``X-Anjungan-Backlog`` header; None when absent or not understood (it is informational)."""
    if not text or len(text) > 200:
        return None
    counts: dict[str, int] = {}
    for part in text.split(","):
        stream, _, count = part.strip().partition("=")
        if stream not in STREAMS or not count.isdigit() or len(count) > 15:
            return None
        counts[stream] = int(count)
    return counts


# Informational, on GET /changes: the gateway's documents' files, e.g. "missing=2,failing=1" (failing: those
# whose last download failed; they are retried on their own schedule and never stop the rest of the sync).
HEADER_FILES = "X-Anjungan-Files"
_FILES_KEYS = ("missing", "failing")


def format_files(counts: Mapping[str, int]) -> str:
    """The ``X-Anjungan-Files`` header's value: ``missing=<n>,failing=<n>``."""
    return ",".join(f"{key}={int(counts.get(key, 0))}" for key in _FILES_KEYS)


def parse_files(text: str | None) -> dict[str, int] | None:
    """The counts of an ``X-Anjungan-Files`` header; None when absent or not understood (informational)."""
    if not text or len(text) > 100:
        return None
    counts: dict[str, int] = {}
    for part in text.split(","):
        key, _, count = part.strip().partition("=")
        if key not in _FILES_KEYS or not count.isdigit() or len(count) > 15:
            return None
        counts[key] = int(count)
    return counts


# Informational, on GET /changes: the gateway's own health, e.g. "version=0.1.0,uptime_s=3600,clock=1,...".
# Keys the central does not know are ignored (a newer gateway may say more); a value that is not understood
# drops that key only. A gateway that sends no such header (an older one) is still served.
HEADER_HEALTH = "X-Anjungan-Health"
HEALTH_INTS = (
    "uptime_s", "disk_free_b", "disk_total_b", "store_b", "budget_b", "clock", "offset_ms", "dead", "sync_s",
    *(f"oldest_{stream}_s" for stream in STREAMS),  # the age of the oldest record waiting, per stream
)  # fmt: skip
HEALTH_FLOATS = ("water_alert_cm", "mains_min_v")
_VERSION_RE = re.compile(r"[A-Za-z0-9.+_-]{1,40}\Z")
_INT_RE = re.compile(r"-?[0-9]{1,18}\Z")
_FLOAT_RE = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?\Z")

# The sane range of each value a gateway reports (inclusive); a value outside it is not understood and is left
# out like any other, so that nothing it says can overflow a 64-bit column, divide by zero or date a node in the
# future. Seconds of age or uptime: at most ten years; intervals: one second to one day; bytes: up to 1 PB.
_DAY_S = 86_400
_TEN_YEARS_S = 10 * 366 * _DAY_S
_BYTES_MAX = 10**15
RANGES: dict[str, tuple[float, float]] = {
    # X-Anjungan-Health
    "uptime_s": (0, _TEN_YEARS_S),
    "disk_free_b": (0, _BYTES_MAX),
    "disk_total_b": (0, _BYTES_MAX),
    "store_b": (0, _BYTES_MAX),
    "budget_b": (0, _BYTES_MAX),
    "clock": (0, 1),
    "offset_ms": (-_TEN_YEARS_S * 1000, _TEN_YEARS_S * 1000),
    "dead": (0, 10**12),
    "sync_s": (1, _DAY_S),
    **{f"oldest_{stream}_s": (0, _TEN_YEARS_S) for stream in STREAMS},
    "water_alert_cm": (-100_000, 100_000),
    "mains_min_v": (0, 1_000),
    # X-Anjungan-Nodes (and the same quantities in a node's hello event)
    "boot": (0, 2**32 - 1),
    "mem": (0, 2**40),
    "rssi": (-200, 50),
    "bad": (0, 10**12),
    "frames": (0, 10**12),
    "every": (1, _DAY_S),
    "seen": (0, _TEN_YEARS_S),
    "up": (0, _TEN_YEARS_S),
    "bat": (0, 100),
}


def in_range(key: str, value: float) -> bool:
    """Whether a reported ``value`` of ``key`` (a :data:`RANGES` key) lies in its sane range; a key with no
    range is never in range."""
    low, high = RANGES.get(key, (1, 0))
    return low <= value <= high


def format_health(health: Mapping[str, Any]) -> str:
    """The ``X-Anjungan-Health`` header's value: ``key=value`` pairs, comma-separated, of the keys given
    (``version``, :data:`HEALTH_INTS`, :data:`HEALTH_FLOATS`); None values are left out."""
    parts = []
    for key in ("version", *HEALTH_INTS, *HEALTH_FLOATS):
        value = health.get(key)
        if value is None:
            continue
        if key == "version":
            parts.append(f"{key}={value}")
        elif key in HEALTH_INTS:
            parts.append(f"{key}={int(value)}")
        else:
            parts.append(f"{key}={round(float(value), 6):g}")
    return ",".join(parts)


def parse_health(text: str | None) -> dict[str, Any] | None:
    """The values of an ``X-Anjungan-Health`` header (``version`` str, the others int or float); None when the
    header is absent or too long (over 1,000 characters). Unknown keys and values not understood (not a number,
    or outside the key's :data:`RANGES`, e.g. ``sync_s=0``) are left out."""
    if not text or len(text) > 1000:
        return None
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, _, value = part.strip().partition("=")
        if key == "version" and _VERSION_RE.match(value):
            out[key] = value
        elif key in HEALTH_INTS and _INT_RE.match(value) and in_range(key, int(value)):
            out[key] = int(value)
        elif key in HEALTH_FLOATS and _FLOAT_RE.match(value) and in_range(key, float(value)):
            out[key] = float(value)
    return out


# Informational, on GET /changes: the health of the gateway's nodes, one node per ";"-separated item, the
# node id first, then key=value pairs: "dmk-wl-01,boot=12,fw=1.0.3,mem=51234,rssi=-67,bat=3.91,bad=2,
# every=60,seen=12". seen: seconds since its last frame; every: its reading interval in seconds; bad: lines
# from it that were not valid frames. At most NODES_MAX nodes (the header stays under 8 KiB).
HEADER_NODES = "X-Anjungan-Nodes"
NODES_MAX = 100
NODE_INTS = ("boot", "mem", "rssi", "bad", "every", "seen", "up", "frames")
NODE_FLOATS = ("bat",)


def format_nodes(nodes: Sequence[Mapping[str, Any]]) -> str:
    """The ``X-Anjungan-Nodes`` header's value for up to :data:`NODES_MAX` nodes, each a mapping with
    ``node`` and any of ``fw``, :data:`NODE_INTS`, :data:`NODE_FLOATS` (None values are left out)."""
    items = []
    for node in nodes[:NODES_MAX]:
        parts = [str(node["node"])]
        fw = node.get("fw")
        if fw is not None and _VERSION_RE.match(str(fw)):
            parts.append(f"fw={fw}")
        parts += [f"{k}={int(node[k])}" for k in NODE_INTS if node.get(k) is not None]
        parts += [f"{k}={round(float(node[k]), 3):g}" for k in NODE_FLOATS if node.get(k) is not None]
        items.append(",".join(parts))
    return ";".join(items)


def parse_nodes(text: str | None) -> list[dict[str, Any]] | None:
    """The nodes of an ``X-Anjungan-Nodes`` header: ``[{"node", "fw"?, <key>: int|float ...}]``; None when
    absent or too long (over 16,000 characters); an item whose node id is not a node id is left out, and so are
    values not understood (not a number, or outside the key's :data:`RANGES`, e.g. ``every=0``)."""
    if text is None or len(text) > 16_000:
        return None
    out: list[dict[str, Any]] = []
    for item in text.split(";")[:NODES_MAX]:
        node, *pairs = item.strip().split(",")
        if not NODE_RE.match(node):
            continue
        entry: dict[str, Any] = {"node": node}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key == "fw" and _VERSION_RE.match(value):
                entry["fw"] = value
            elif key in NODE_INTS and _INT_RE.match(value) and in_range(key, int(value)):
                entry[key] = int(value)
            elif key in NODE_FLOATS and _FLOAT_RE.match(value) and in_range(key, float(value)):
                entry[key] = float(value)
        out.append(entry)
    return out
