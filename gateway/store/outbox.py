"""The outbox: what each stream (readings, events, submissions, ratings) has not yet sent to the central, and the
acknowledgements, failures and errors of sending it (``sync_state``)."""

from __future__ import annotations

import json
import logging

from gateway.errors import StoreError
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.readings import READINGS_SQL
from gateway.store.rows import Backlog, Record, safe_text
from gateway.vocabulary import SKM_ELEMENTS, STREAMS, Stream

log = logging.getLogger(__name__)


class OutboxMixin(StoreBase):
    """The sync side's queries of :class:`~gateway.store.Store`."""

    def acked(self, stream: str) -> int:
        """The highest seq of ``stream`` the central has acknowledged; raises StoreError for an unknown stream."""
        row = self.conn.execute("SELECT acked FROM sync_state WHERE stream = ?", (stream,)).fetchone()
        if row is None:
            if stream in STREAMS:  # a stream added by a later release: no state until its first sync
                return self._acks_held.get(stream, 0)
            raise StoreError(f"unknown stream {stream!r}")
        return max(int(row[0]), self._acks_held.get(stream, 0))

    def highest_seq(self, stream: str) -> int:
        """The highest seq this store ever gave a record of ``stream`` (0 when none): AUTOINCREMENT's counter,
        which counts records that retention has evicted since. Raises StoreError for an unknown stream."""
        if stream not in STREAMS:
            raise StoreError(f"unknown stream {stream!r}")
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (stream,)).fetchone()
        return int(row[0]) if row else 0

    def outbox(self, stream: str, limit: int = 1000) -> list[Record]:
        """The next records of ``stream`` after its acknowledged seq (dead letters left out), oldest first.

        The read transaction ends before this returns: do the network call afterwards.
        """
        with db.snapshot(self.conn) as conn:
            after = self.acked(stream)
            dead = "AND {col} NOT IN (SELECT seq FROM dead_letters WHERE stream = '{stream}')"
            if stream == "readings":
                rows = conn.execute(
                    f"{READINGS_SQL} WHERE r.seq > ? {dead.format(col='r.seq', stream=stream)} "
                    "ORDER BY r.seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "node": n, "boot": b, "q": q, "name": m, "value": v, "at": at, "offset": off}
                    for s, n, b, q, m, v, at, off in rows
                ]
            if stream == "events":
                rows = conn.execute(
                    "SELECT seq, at, offset, node, kind, data FROM events WHERE seq > ? "
                    f"{dead.format(col='seq', stream=stream)} ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "at": at, "offset": off, "node": n, "kind": k, "data": json.loads(d)}
                    for s, at, off, n, k, d in rows
                ]
            if stream == "submissions":
                rows = conn.execute(
                    "SELECT seq, uuid, number, kind, at, offset, due_date, public, personal, access_hash, notify_sms "
                    f"FROM submissions WHERE seq > ? {dead.format(col='seq', stream=stream)} ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": s, "uuid": u, "number": num, "kind": k, "at": at, "offset": off, "due_date": due,
                     "public": json.loads(pub), "personal": json.loads(per) if per is not None else None,
                     **({"access": acc} if acc else {}), **({"sms": True} if sms and per is not None else {})}
                    for s, u, num, k, at, off, due, pub, per, acc, sms in rows
                ]  # fmt: skip
            if stream == "ratings":
                rows = conn.execute(
                    f"SELECT seq, uuid, service, day, {', '.join(SKM_ELEMENTS)} FROM ratings WHERE seq > ? "
                    f"{dead.format(col='seq', stream=stream)} ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
                return [
                    {"seq": row[0], "uuid": row[1], "service": row[2], "day": row[3],
                     "ratings": {e: v for e, v in zip(SKM_ELEMENTS, row[4:], strict=True) if v is not None}}
                    for row in rows
                ]  # fmt: skip
        raise StoreError(f"unknown stream {stream!r}")

    def mark_acked(self, stream: str, seq: int, hold_ms: int = 0) -> None:
        """The central has committed ``stream`` through ``seq``; never moves backwards. The stream's count of
        failures in a row starts again (its head has moved). Raises StoreError when it cannot be written.

        ``hold_ms`` > 0: when the stream's state was written less than ``hold_ms`` ms ago and counts no
        failures, the acknowledgement is only held in this Store object (:meth:`acked` answers it) and
        written with a later one, at the latest ``hold_ms`` after the last write, or by :meth:`close`. Each
        write is a transaction of its own (pages of the WAL and its index written to the SD card: the sync
        acknowledged readings once a round, bench/field.py); what a crash loses is sent again, which the
        central takes as already stored (it stores each (gateway, stream, seq) once: DESIGN.md). Other
        processes see the written value; never use it for a stream whose acknowledgement purges data.
        """
        now = db.now_ms()
        if hold_ms > 0:
            row = self.conn.execute(
                "SELECT last_success, failures FROM sync_state WHERE stream = ?", (stream,)
            ).fetchone()
            if row is not None and row[0] is not None and not row[1] and 0 <= now - int(row[0]) < hold_ms:
                self._acks_held[stream] = max(seq, self._acks_held.get(stream, 0))
                return
        seq = max(seq, self._acks_held.get(stream, 0))
        with db.transaction(self.conn, "recording the sync"):
            self._stream_state(stream)
            self.conn.execute(
                "UPDATE sync_state SET acked = max(acked, ?), last_success = ?, failures = 0, failing_seq = NULL "
                "WHERE stream = ?",
                (seq, now, stream),
            )
        if self._acks_held.get(stream, 0) <= seq:
            self._acks_held.pop(stream, None)

    def write_held_acks(self) -> None:
        """Write the acknowledgements held by :meth:`mark_acked`; one that cannot be written is logged and
        left (its records are sent again)."""
        for stream, seq in sorted(self._acks_held.items()):
            try:
                self.mark_acked(stream, seq)
            except StoreError as err:
                log.warning("cannot record the acknowledgement of %s through %d: %s", stream, seq, err)

    def close(self) -> None:
        """:meth:`write_held_acks`, then close as :meth:`StoreBase.close`."""
        self.write_held_acks()
        super().close()

    def note_failure(self, stream: str, first_seq: int, message: str | None = None) -> int:
        """A batch of ``stream`` starting at ``first_seq`` failed; answer how many times in a row a batch
        starting there has failed (kept in the store, so that restarts do not forget it). ``message``, when
        given, becomes the stream's last error in the same transaction (as :meth:`record_sync_error`)."""
        with db.transaction(self.conn, "recording a sync failure"):
            self._stream_state(stream)
            self.conn.execute(
                "UPDATE sync_state SET failures = CASE WHEN failing_seq = ? THEN failures + 1 ELSE 1 END, "
                "failing_seq = ? WHERE stream = ?",
                (first_seq, first_seq, stream),
            )
            if message is not None:
                self.conn.execute(
                    "UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE stream = ?",
                    (safe_text(message), db.now_ms(), stream),
                )
            row = self.conn.execute("SELECT failures FROM sync_state WHERE stream = ?", (stream,)).fetchone()
        return int(row[0])

    def record_sync_error(self, stream: str, message: str) -> None:
        """Keep ``message`` as the last error of ``stream`` (shown by ``anjungan sync status``), with when."""
        with db.transaction(self.conn, "recording a sync error"):
            self._stream_state(stream)
            self.conn.execute(
                "UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE stream = ?",
                (safe_text(message), db.now_ms(), stream),
            )

    def _stream_state(self, stream: str) -> None:
        """Give ``stream`` its row in ``sync_state`` (inside the caller's write transaction) when it has none: a
        stream added by a later release (``ratings``) gets its state at its first sync, so that upgrading a
        store adds no row. Raises StoreError for an unknown stream."""
        if stream not in STREAMS:
            raise StoreError(f"unknown stream {stream!r}")
        self.conn.execute(
            "INSERT INTO sync_state (stream) VALUES (?) ON CONFLICT (stream) DO NOTHING", (stream,)
        )

    STANDING_ERROR = "the central has more of this stream than this store"  # a state, not an event (uplink)

    def clear_sync_errors(self) -> None:
        """Forget every stream's last error: a round just sent all there was, so none of them is current —
        except a standing condition that no round clears by itself (:data:`STANDING_ERROR`: this store is
        behind the central, docs/sync.md "A replaced store")."""
        with db.transaction(self.conn, "clearing sync errors"):
            self.conn.execute(
                "UPDATE sync_state SET last_error = NULL, last_error_at = NULL "
                "WHERE last_error IS NOT NULL AND substr(last_error, 1, ?) != ?",
                (len(self.STANDING_ERROR), self.STANDING_ERROR),
            )

    def backlog(self) -> dict[str, Backlog]:
        """Per stream: unsynced count, oldest unsynced record's time (ms), acked seq, last success, last error."""
        # (a rating keeps no time of day: its oldest waiting time is unknown)
        table = {Stream.READINGS: ("readings r JOIN frames f ON f.id = r.frame_id", "r.seq", "f.at"),
                 Stream.EVENTS: ("events", "seq", "at"), Stream.SUBMISSIONS: ("submissions", "seq", "at"),
                 Stream.RATINGS: ("ratings", "seq", "NULL")}  # fmt: skip
        out: dict[str, Backlog] = {}
        with self.snapshot() as conn:
            states = {row[0]: row for row in conn.execute(
                "SELECT stream, acked, last_success, last_error, last_error_at FROM sync_state"
            ).fetchall()}  # fmt: skip
            missing = [
                (s, 0, None, None, None) for s in STREAMS if s not in states
            ]  # no state yet: nothing acked
            for stream, written, last_success, last_error, last_error_at in [*states.values(), *missing]:
                acked = max(written, self._acks_held.get(stream, 0))  # held by this process: mark_acked
                source, seq_col, at_col = table[stream]
                count, oldest = conn.execute(
                    f"SELECT count(*), min({at_col}) FROM {source} WHERE {seq_col} > ? "
                    f"AND {seq_col} NOT IN (SELECT seq FROM dead_letters WHERE stream = ?)",
                    (acked, stream),
                ).fetchone()
                dead = conn.execute(
                    "SELECT count(*) FROM dead_letters WHERE stream = ?", (stream,)
                ).fetchone()[0]
                out[stream] = {"pending": count, "oldest_at": oldest, "acked": acked, "dead_letters": dead,
                               "last_success": last_success, "last_error": last_error,
                               "last_error_at": last_error_at}  # fmt: skip
        return out

    def pending_estimate(self) -> dict[str, int]:
        """Records above each stream's acknowledged seq less its dead letters there (cheap: AUTOINCREMENT's
        high-water mark, not a count)."""
        conn = self.conn
        out = {}
        for stream in STREAMS:  # each stream's table has the stream's name
            top = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (stream,)).fetchone()
            acked = self.acked(stream)
            dead = conn.execute(
                "SELECT count(*) FROM dead_letters WHERE stream = ? AND seq > ?", (stream, acked)
            ).fetchone()[0]
            out[stream] = max(0, (top[0] if top else 0) - acked - dead)
        return out
