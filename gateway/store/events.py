"""Events: what happened at the gateway (a node offline, an alert, a clock step); they sync to the central."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import Event, to_json


class EventsMixin(StoreBase):
    """The events' queries of :class:`~gateway.store.Store`."""

    def add_event(self, kind: str, data: Mapping[str, Any] | None = None, node: str | None = None) -> int:
        """Record an event (it syncs to the central); returns its seq."""
        with db.transaction(self.conn, "saving an event"):
            cur = self.conn.execute(
                "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
                (self.clock.now_ms(), self.clock_offset(), node, kind, to_json(dict(data or {}))),
            )
        return int(cur.lastrowid or 0)

    def events(self, after: int = 0, limit: int = 100, kind: str | None = None) -> list[Event]:
        """Up to ``limit`` events after seq ``after`` (of one kind, or all), oldest first."""
        sql = "SELECT seq, at, offset, node, kind, data FROM events WHERE seq > ?"
        args: list[Any] = [after]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        rows = self.reader.execute(sql + " ORDER BY seq LIMIT ?", (*args, limit))
        return [
            {"seq": s, "at": at, "offset": off, "node": n, "kind": k, "data": json.loads(d)}
            for s, at, off, n, k, d in rows
        ]

    def has_events_except(self, after: int, kinds: Collection[str]) -> bool:
        """Whether an event of a kind not in ``kinds`` is stored after seq ``after``."""
        marks = ",".join("?" * len(kinds))
        row = self.conn.execute(
            f"SELECT 1 FROM events WHERE seq > ? AND kind NOT IN ({marks}) LIMIT 1", (after, *kinds)
        ).fetchone()
        return row is not None
