"""Fixtures of the fleet's tests: the central's app, database (SQLite and PostgreSQL) and a gateway come from
tests/central/conftest.py; here, records as a gateway sends them."""

from __future__ import annotations

from typing import Any

from tests.central.conftest import app, client, clock, db_url, gateway  # noqa: F401  (fixtures)

T0_MS = 1_795_449_600_000  # 2026-11-24T12:00:00Z (19:00 WIB)


def reading(seq: int, at_ms: int, node: str = "dmk-wl-01", name: str = "water_cm", value: float = 80.0,
            boot: int = 1, offset: int | None = 0) -> dict[str, Any]:  # fmt: skip
    """A reading record (protocol shape) stamped ``at_ms`` by a gateway whose clock is off by ``offset``."""
    return {"seq": seq, "node": node, "boot": boot, "q": seq, "name": name, "value": value, "at": at_ms,
            "offset": offset}  # fmt: skip


def event(seq: int, at_ms: int, kind: str, node: str | None, **data: Any) -> dict[str, Any]:
    return {"seq": seq, "at": at_ms, "offset": 0, "node": node, "kind": kind, "data": data}
