"""How the central writes its values: times (unix milliseconds, ISO 8601 UTC text), JSON text as stored in its
tables, and the sha256 names of files."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    text = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def json_text(value: Any) -> str:
    """``value`` as the central stores JSON: compact, keys sorted, non-ASCII kept as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
