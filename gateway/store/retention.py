"""Keeping the store within its size budget.

Order of sacrifice: readings the central already acknowledged (oldest first), then unsynced readings,
thinned oldest-first (every other frame of the oldest window goes, its dedup key with it: a thinned frame
that arrives again is stored again), with the loss recorded as an event per node with counts. Events and citizens' submissions are never evicted. Freed pages are reused by SQLite, so
"size" here is the bytes in use (pages minus free pages), not the file's length.
"""

from __future__ import annotations

import json
import sqlite3

from gateway.store import db

CHUNK = 20_000  # readings deleted per step
THIN_WINDOW = 50_000  # unsynced readings looked at per thinning step


def used_bytes(conn: sqlite3.Connection) -> int:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


def enforce_budget(conn: sqlite3.Connection, budget_bytes: int, max_steps: int = 50) -> dict[str, int]:
    """Evict until the store is below 90 % of ``budget_bytes``; return what was removed."""
    removed = {"synced": 0, "thinned": 0}
    target = int(budget_bytes * 0.9)
    if used_bytes(conn) <= budget_bytes:
        return removed
    for _ in range(max_steps):
        if used_bytes(conn) <= target:
            break
        with db.transaction(conn, "retention"):
            gone = _drop_synced(conn)
            if gone:
                removed["synced"] += gone
            else:
                thinned = _thin_unsynced(conn)
                if not thinned:
                    break
                removed["thinned"] += thinned
            _drop_orphan_frames(conn)
    return removed


def _acked(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT acked FROM sync_state WHERE stream = 'readings'").fetchone()[0])


def _drop_synced(conn: sqlite3.Connection) -> int:
    acked = _acked(conn)
    cur = conn.execute(
        "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings WHERE seq <= ? ORDER BY seq LIMIT ?)",
        (acked, CHUNK),
    )
    return cur.rowcount


def _thin_unsynced(conn: sqlite3.Connection) -> int:
    """Delete the readings of every other frame in the oldest window of unsynced readings."""
    frame_ids = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT frame_id FROM (SELECT frame_id FROM readings WHERE seq > ? ORDER BY seq LIMIT ?)",
            (_acked(conn), THIN_WINDOW),
        )
    ]
    victims = frame_ids[1::2]
    if not victims:
        return 0
    per_node: dict[str, int] = {}
    removed = 0
    for start in range(0, len(victims), 500):
        chunk = victims[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for node, count in conn.execute(
            f"SELECT n.node, count(*) FROM readings r JOIN frames f ON f.id = r.frame_id "
            f"JOIN nodes n ON n.id = f.node_id WHERE r.frame_id IN ({marks}) GROUP BY n.node",
            chunk,
        ):
            per_node[node] = per_node.get(node, 0) + count
        removed += conn.execute(f"DELETE FROM readings WHERE frame_id IN ({marks})", chunk).rowcount
        conn.execute(f"DELETE FROM frames WHERE id IN ({marks})", chunk)  # or the budget is never reached
    at = db.now_ms()
    for node, count in sorted(per_node.items()):
        conn.execute(
            "INSERT INTO events (at, node, kind, data) VALUES (?, ?, 'readings_thinned', ?)",
            (at, node, json.dumps({"readings": count, "reason": "store size budget reached"})),
        )
    return removed


def _drop_orphan_frames(conn: sqlite3.Connection) -> None:
    """Frames older than the oldest remaining reading carry nothing any more (their dedup key goes too)."""
    conn.execute("DELETE FROM frames WHERE id < (SELECT min(frame_id) FROM readings)")
