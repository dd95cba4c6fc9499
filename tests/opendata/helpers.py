"""Readings as a gateway sends them, and their expected hourly aggregates computed here independently."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from tests.opendata.conftest import AT_MS

HOUR_MS = 3_600_000
BASE_MS = AT_MS - AT_MS % HOUR_MS  # an hour start


def reading(
    seq: int, node: str, name: str, value: float, at_ms: int, offset: int | None = 0
) -> dict[str, Any]:
    return {"seq": seq, "node": node, "boot": 1, "q": seq, "name": name, "value": value, "at": at_ms,
            "offset": offset}  # fmt: skip


def series(first_seq: int, hours: int, start_ms: int = BASE_MS) -> list[dict[str, Any]]:
    """Water level every 10 minutes and rain every 20 minutes for ``hours`` hours from ``start_ms``."""
    out: list[dict[str, Any]] = []
    for minute in range(0, hours * 60, 10):
        at = start_ms + minute * 60_000
        out.append(reading(0, "dmk-wl-01", "water_cm", 100 + minute / 10, at))
        if minute % 20 == 0:
            out.append(reading(0, "dmk-rain-01", "rain_mm", 0.2794 * (minute % 3), at))
    for index, record in enumerate(out):
        record["seq"] = record["q"] = first_seq + index
    return out


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_hours(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(node, name, hour start) -> {count, mean, min, max, sum} of the records whose time is known."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in records:
        if r["offset"] is not None:
            t = r["at"] + r["offset"]
            groups[(r["node"], r["name"], iso(t - t % HOUR_MS))].append(float(r["value"]))
    return {
        key: {"count": len(v), "mean": sum(v) / len(v), "min": min(v), "max": max(v), "sum": sum(v)}
        for key, v in groups.items()
    }


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("count", "mean", "min", "max", "sum")}


def close(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return int(a["count"]) == int(b["count"]) and all(
        abs(float(a[k]) - float(b[k])) < 1e-9 for k in ("mean", "min", "max", "sum")
    )
