"""Nodes: the ``nodes`` table the writer keeps current as frames arrive (last seen, boot, frames, bad lines,
hello fields), and what the ingest's watch owns in it (``online``, ``interval_s``): a node that misses
``offline_after`` of its intervals is marked offline with an ``offline`` event, and marked online with an
``online`` event when it is heard again (gateway/ingest/watch.py)."""

from __future__ import annotations

import json
from typing import Any

from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import NodeRow


class NodesMixin(StoreBase):
    """The nodes' queries of :class:`~gateway.store.Store`."""

    def nodes(self) -> list[NodeRow]:
        """Every row of ``nodes``, by node id."""
        cur = self.reader.execute(f"SELECT {', '.join(NodeRow.__annotations__)} FROM nodes ORDER BY node")
        return [dict(zip(NodeRow.__annotations__, row, strict=True)) for row in cur]  # type: ignore[misc]

    def watched_nodes(self) -> list[tuple[str, int, bool, int | None]]:
        """(node, last_seen ms, online, interval_s) of every node, for the ingest's offline check."""
        rows = self.conn.execute("SELECT node, last_seen, online, interval_s FROM nodes ORDER BY node")
        return [(n, last, bool(online), interval) for n, last, online, interval in rows]

    def set_node_interval(self, node: str, interval_s: int) -> None:
        """Keep the reporting interval (s) the watch learned for ``node``."""
        with db.transaction(self.conn, "saving a node's interval"):
            self.conn.execute("UPDATE nodes SET interval_s = ? WHERE node = ?", (interval_s, node))

    def mark_node(self, node: str, online: bool, data: dict[str, Any]) -> None:
        """Mark a node online or offline and record the matching event (with ``data``), in one transaction."""
        now = self.clock.now_ms()
        with db.transaction(self.conn, "marking a node online/offline"):
            self.conn.execute("UPDATE nodes SET online = ? WHERE node = ?", (int(online), node))
            self.conn.execute(
                "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
                (now, self.clock_offset(), node, "online" if online else "offline", json.dumps(data)),
            )

    def highest_boot(self, node: str) -> int | None:
        """The highest boot the store holds for ``node`` (the frame keys it has seen, which retention never
        forgets, or the nodes table), None when it does not
        know the node (docs/flashing.md: a replacement board must boot above it)."""
        row = self.conn.execute(
            "SELECT max(coalesce(n.boot, 0), coalesce(n.seen_boot, 0), "
            "coalesce((SELECT max(boot) FROM frames_seen s WHERE s.node_id = n.id), 0)) FROM nodes n WHERE n.node = ?",
            (node,),
        ).fetchone()
        return int(row[0]) if row and row[0] else None
