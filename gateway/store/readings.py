"""Readings: the contract rows (export), the latest values and 5-minute series (the kiosk), what the sync side
sends, and the counters behind the kiosk's metrics. Written only by the
:class:`~gateway.store.writer.ReadingWriter`; this module reads.

Raw ``sqlite3`` on purpose: these are the kiosk's and the uplink's hot reads (bench/kiosk.py, bench/sync.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.store.base import StoreBase
from gateway.store.rows import ConsoleLine, LatestValue, Reading, Record, SeriesPoint, iso_utc
from gateway.store.writer import SERIES_BUCKET_MS
from gateway.vocabulary import READING_KEYS

# seq, node, boot, q, name, value, at, offset of each reading (the outbox's reading row, in READING_KEYS order)
READINGS_SQL = (
    "SELECT r.seq, n.node, f.boot, f.q, m.name, r.value, f.at, f.offset FROM readings r "
    "JOIN frames f ON f.id = r.frame_id JOIN nodes n ON n.id = f.node_id JOIN names m ON m.id = r.name_id"
)
RATE_WINDOW_MS = 600_000  # readings per second are counted over the last 10 minutes


class ReadingsMixin(StoreBase):
    """The readings' queries of :class:`~gateway.store.Store`."""

    def readings(self, node: str | None = None, since_ms: int | None = None) -> Iterator[Reading]:
        """Stored readings in store order, as contract rows (node, boot, seq, name, value, received_at)."""
        where, args = ["r.seq > ?"], [0]
        if node is not None:
            where.append("n.node = ?")
            args.append(node)  # type: ignore[arg-type]
        if since_ms is not None:
            where.append("f.at >= ?")
            args.append(since_ms)
        last = 0
        while True:  # pages, so that no read transaction stays open while the caller prints
            args[0] = last
            rows = self.conn.execute(
                f"{READINGS_SQL} WHERE {' AND '.join(where)} ORDER BY r.seq LIMIT 5000", args
            ).fetchall()
            for _seq, node_id, boot, q, name, value, at, _offset in rows:
                yield {"node": node_id, "boot": boot, "seq": q, "name": name, "value": value,
                       "received_at": iso_utc(at)}  # fmt: skip
            if len(rows) < 5000:
                return
            last = rows[-1][0]

    def readings_after(self, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` readings after seq ``after`` as outbox rows (keys :data:`READING_KEYS`), dead
        letters left out, oldest first; one short read transaction."""
        with self.snapshot() as conn:
            rows = conn.execute(
                f"{READINGS_SQL} WHERE r.seq > ? AND r.seq NOT IN "
                "(SELECT seq FROM dead_letters WHERE stream = 'readings') ORDER BY r.seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [dict(zip(READING_KEYS, row, strict=True)) for row in rows]

    def latest(self) -> list[LatestValue]:
        """The latest value of every (node, measurement), with when it arrived (ms)."""
        rows = self.reader.execute(
            "SELECT n.node, m.name, l.value, l.at FROM latest l JOIN nodes n ON n.id = l.node_id "
            "JOIN names m ON m.id = l.name_id ORDER BY n.node, m.name"
        )
        return [{"node": r[0], "name": r[1], "value": r[2], "at": r[3]} for r in rows]

    def knows_measurement(self, node: str, name: str) -> bool:
        """Whether node ``node`` has ever sent measurement ``name`` (it has a latest value), e.g. before a chart
        of it is drawn: a node or name the store does not know has no chart."""
        row = self.reader.execute(
            "SELECT 1 FROM latest l JOIN nodes n ON n.id = l.node_id JOIN names m ON m.id = l.name_id "
            "WHERE n.node = ? AND m.name = ?",
            (node, name),
        ).fetchone()
        return row is not None

    def series(self, node: str, name: str, since_ms: int) -> list[SeriesPoint]:
        """5-minute aggregates (start ms, mean, low, high, count) of one measurement since ``since_ms``."""
        rows = self.reader.execute(
            "SELECT s.bucket, s.total / s.n, s.low, s.high, s.n FROM series s "
            "JOIN nodes n ON n.id = s.node_id JOIN names m ON m.id = s.name_id "
            "WHERE n.node = ? AND m.name = ? AND s.bucket >= ? ORDER BY s.bucket",
            (node, name, since_ms // SERIES_BUCKET_MS),
        )
        return [
            {"at": b * SERIES_BUCKET_MS, "mean": mean, "low": low, "high": high, "n": n}
            for b, mean, low, high, n in rows
        ]

    def total_since(self, node: str, name: str, since_ms: int, until_ms: int) -> float | None:
        """The sum of one measurement's readings in the 5-minute aggregates that start at or after ``since_ms``
        and at or before ``until_ms`` (what fell in that time, for a measurement whose readings add up: rain in
        mm; a window of an hour counts 55 to 60 minutes, never more; stamps beyond ``until_ms``, after a step
        of the clock, are not counted); None when no aggregate lies in the window."""
        row = self.reader.execute(
            "SELECT sum(s.total) FROM series s JOIN nodes n ON n.id = s.node_id JOIN names m ON m.id = s.name_id "
            "WHERE n.node = ? AND m.name = ? AND s.bucket >= ? AND s.bucket <= ?",
            (node, name, -(-since_ms // SERIES_BUCKET_MS), until_ms // SERIES_BUCKET_MS),
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def console(self, source: str, limit: int = 50) -> list[ConsoleLine]:
        """The last ``limit`` console lines of ``source`` (a node's port), oldest first."""
        rows = self.reader.execute(
            "SELECT at, line FROM console WHERE source = ? ORDER BY id DESC LIMIT ?", (source, limit)
        ).fetchall()
        return [{"at": at, "line": line} for at, line in reversed(rows)]

    def readings_total(self) -> int:
        """Readings the store has ever taken (the readings' AUTOINCREMENT counter survives their deletion)."""
        row = self.reader.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        return int(row[0]) if row else 0

    def readings_per_second(self, now_ms: int, window_ms: int = RATE_WINDOW_MS) -> float:
        """Readings stored per second over the ``window_ms`` before ``now_ms`` (walks back from the newest
        reading only)."""
        conn = self.reader
        top = conn.execute("SELECT max(seq) FROM readings").fetchone()[0]
        if top is None:
            return 0.0
        older = conn.execute(
            "SELECT r.seq FROM readings r JOIN frames f ON f.id = r.frame_id WHERE f.at < ? "
            "ORDER BY r.seq DESC LIMIT 1",
            (now_ms - window_ms,),
        ).fetchone()
        return float(top - (older[0] if older else 0)) / (window_ms / 1000)


__all__ = ["READINGS_SQL", "RATE_WINDOW_MS", "ReadingsMixin"]
