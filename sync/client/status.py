"""What ``anjungan sync status`` shows: the backlog per stream, its oldest record's age, last success and last
error, the clock, the downlink cursor and the documents' files still missing."""

from __future__ import annotations

import time
from typing import Any

from gateway.store import Store, iso_utc


def collect(store: Store, *, now_ms: int | None = None) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    streams = {}
    for stream, row in store.backlog().items():
        oldest = row["oldest_at"]
        streams[stream] = {
            "pending": row["pending"],
            "oldest_age_s": round((now_ms - oldest) / 1000, 1) if oldest is not None else None,
            "acked": row["acked"],
            "dead_letters": row["dead_letters"],
            "last_success": _iso(row["last_success"]),
            "last_error": row["last_error"],
            "last_error_at": _iso(row["last_error_at"]),
        }
    offset = store.clock_offset()
    checked = store.get_meta("clock_checked_at")
    return {
        "streams": streams,
        "clock": {"offset_ms": offset, "checked_at": _iso(int(checked)) if checked else None},
        "downlink": {
            "cursor": store.get_meta("changes_cursor"),
            "last_success": _iso_meta(store.get_meta("downlink_last_success")),
            "last_error": store.get_meta("downlink_last_error"),
        },
        "files": {**store.files_summary(), "failing_files": store.files_failing()},
        "credentials": {"refused": store.get_meta("credentials_refused")},
    }


def render(status: dict[str, Any]) -> str:
    """:func:`collect`'s report as the lines of ``anjungan sync status``; a ``central`` entry (``url``: None when
    ``[central] url`` is empty) puts first that nothing can be sent."""
    lines = []
    central = status.get("central")
    if central is not None and not central.get("url"):
        lines.append("NO CENTRAL CONFIGURED ([central] url is empty): nothing is sent until it is set")
        lines.append("  fill in [central] url, gateway_id and secret (docs/deploy.md, step 5)")
    refused = status.get("credentials", {}).get("refused")
    if refused:
        lines.append(f"CREDENTIALS REFUSED by the central (since {refused})")
        lines.append(
            "  nothing is sent and no personal data is purged until a person fixes [central] in the config"
        )
    lines.append(
        f"{'stream':<12} {'pending':>9} {'oldest':>9} {'acked':>9} {'dead':>5}  last success / last error"
    )
    for stream, row in status["streams"].items():
        lines.append(
            f"{stream:<12} {row['pending']:>9} {_age(row['oldest_age_s']):>9} {row['acked']:>9} "
            f"{row['dead_letters']:>5}  {_last_success(row)}"
        )
        if row["last_error"]:
            lines.append(f"{'':<12} last error {row['last_error_at']}: {row['last_error']}")
    clock = status["clock"]
    if clock["offset_ms"] is None and clock["checked_at"]:
        lines.append(
            f"clock: not known good (checked {clock['checked_at']}, but the wall clock was stepped or the "
            "gateway rebooted since); learned again at the next round"
        )
    elif clock["offset_ms"] is None:
        lines.append("clock: not checked against the central yet")
    else:
        lines.append(f"clock: {clock['offset_ms']:+d} ms against the central (checked {clock['checked_at']})")
    down = status["downlink"]
    lines.append(
        f"changes: cursor {down['cursor'] or '(none yet)'}, last success {down['last_success'] or 'never'}"
    )
    if down["last_error"]:
        lines.append(f"changes: last error {down['last_error']}")
    fl = status["files"]
    lines.append(
        f"documents: {fl['fetched']} file(s) fetched, {fl['missing']} missing, {fl['failing']} failing"
    )
    for item in fl["failing_files"][:10]:
        lines.append(
            f"  {item['sha256'][:12]}… failed {item['attempts']}x, last {_iso(item['failed_at'])}: "
            f"{item['last_error']} (next try {_iso(item['next_attempt_at'])})"
        )
    return "\n".join(lines)


def _last_success(row: dict[str, Any]) -> str:
    """When the central last acknowledged the stream; a stream that never had anything to send is not a
    stream that never succeeded."""
    if row["last_success"]:
        return str(row["last_success"])
    return "never" if row["pending"] or row["dead_letters"] else "nothing to send yet"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _iso(ms: int | None) -> str | None:
    return iso_utc(int(ms)) if ms is not None else None


def _iso_meta(value: str | None) -> str | None:
    return _iso(int(value)) if value else None
