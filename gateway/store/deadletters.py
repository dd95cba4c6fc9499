"""The dead letters: records the central refused (or failed on, again and again), set aside with the reason.

They never block their stream (the outbox leaves them out). A person looks at them (``anjungan sync
dead-letters list``, the kiosk's operator page) and, after a fix, asks for them to be sent again
(:meth:`~DeadLettersMixin.request_dead_letter_retry`); the sync side then sends them
(:meth:`~DeadLettersMixin.dead_letters_due`) and, once the central has stored them, forgets them
(:meth:`~DeadLettersMixin.resolve_dead_letters`), which is also when a submission's personal data is purged. A
submission's dead letter never holds personal data: that stays in ``submissions`` until the central has it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from gateway.backoff import pause_after
from gateway.errors import StoreError
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import DeadLetter, Record, iso_utc, safe_text
from gateway.vocabulary import STREAMS

_SUBMISSION_SQL = (
    "SELECT seq, uuid, number, kind, at, offset, due_date, public, personal FROM submissions WHERE seq = ?"
)


def _record_json(stream: str, record: Mapping[str, Any]) -> str:
    """A refused record as ASCII JSON (holds any text), a submission's personal data left out."""
    if stream == "submissions":
        record = {key: value for key, value in record.items() if key != "personal"}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


def _summary(stream: str, record: dict[str, Any]) -> str:
    """A short line saying which record it is, never personal data."""
    if stream == "submissions":
        return f"{record.get('kind')} {record.get('number')}"
    if stream == "events":
        node = record.get("node")
        return f"{record.get('kind')}" + (f" of {node}" if node else "")
    return f"{record.get('node')} {record.get('name')}={record.get('value')} (boot {record.get('boot')}, q {record.get('q')})"


RETRY_DELAY_S = 30  # after a transient failure of a dead letter sent again: 30 s, doubled per attempt ...
RETRY_DELAY_CAP_S = 3600  # ... up to an hour


class DeadLettersMixin(StoreBase):
    """The dead letters' queries of :class:`~gateway.store.Store`."""

    def dead_letter(self, stream: str, records: list[Record], reason: str) -> None:
        """Set records the central refused aside with the reason; they no longer block their stream.

        Any record can be set aside: it is kept as ASCII JSON (text that cannot be encoded, such as a lone
        surrogate, as its ``\\uXXXX`` escape). A submission is kept without its personal data, which stays in
        ``submissions`` (not purged: the central does not have it). Setting aside a record again (a retry
        refused again) replaces the reason, counts the attempt and ends the retry request.
        """
        now = db.now_ms()
        with db.transaction(self.conn, "saving dead letters"):
            self.conn.executemany(
                "INSERT INTO dead_letters (stream, seq, at, reason, record) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (stream, seq) DO UPDATE SET at = excluded.at, reason = excluded.reason, "
                "retry_at = NULL, attempts = attempts + 1",
                [(stream, r["seq"], now, safe_text(reason), _record_json(stream, r)) for r in records],
            )

    def dead_letter_seqs(self, stream: str, seqs: Collection[int]) -> set[int]:
        """Those of ``seqs`` (seqs of ``stream``) that are dead letters."""
        if not seqs:
            return set()
        rows = self.conn.execute(
            "SELECT seq FROM dead_letters WHERE stream = ? AND seq BETWEEN ? AND ?",
            (stream, min(seqs), max(seqs)),
        )
        return {seq for (seq,) in rows} & set(seqs)

    def dead_letters(self, stream: str | None = None) -> list[DeadLetter]:
        """Every dead letter (of one stream, or all), oldest first, as ``{"stream", "seq", "at" (ISO 8601 UTC),
        "reason", "attempts", "retry_requested" (bool), "summary"}`` plus, for submissions, ``"number"`` and
        ``"kind"``. No personal data (none is stored with them)."""
        if stream is not None and stream not in STREAMS:
            raise StoreError(f"unknown stream {stream!r}")
        sql = "SELECT stream, seq, at, reason, record, attempts, retry_at FROM dead_letters"
        args: tuple[Any, ...] = ()
        if stream is not None:
            sql += " WHERE stream = ?"
            args = (stream,)
        out: list[DeadLetter] = []
        for row_stream, seq, at, reason, record_json, attempts, retry_at in self.conn.execute(
            sql + " ORDER BY at, stream, seq", args
        ):
            record = json.loads(record_json)
            item: DeadLetter = {
                "stream": row_stream, "seq": seq, "at": iso_utc(at), "reason": reason, "attempts": attempts,
                "retry_requested": retry_at is not None, "summary": _summary(row_stream, record),
            }  # fmt: skip
            if row_stream == "submissions":
                item["number"], item["kind"] = record.get("number"), record.get("kind")
            out.append(item)
        return out

    def request_dead_letter_retry(self, stream: str | None = None, seqs: Iterable[int] | None = None) -> int:
        """Ask for dead letters to be sent again (all, those of one stream, or the given seqs of it; with seqs and
        no stream, those seqs in any stream); answers how many were asked for. Unknown seqs are ignored."""
        if stream is not None and stream not in STREAMS:
            raise StoreError(f"unknown stream {stream!r}")
        where, args = ["1"], [db.now_ms()]
        if stream is not None:
            where.append("stream = ?")
            args.append(stream)  # type: ignore[arg-type]
        chosen = list(seqs) if seqs is not None else None
        if chosen is not None:
            where.append(f"seq IN ({', '.join('?' * len(chosen))})" if chosen else "0")
            args.extend(chosen)
        with db.transaction(self.conn, "asking for dead letters to be sent again"):
            cur = self.conn.execute(f"UPDATE dead_letters SET retry_at = ? WHERE {' AND '.join(where)}", args)
        return cur.rowcount

    def dead_letter_retry_wanted(self) -> bool:
        """Some dead letter waits to be sent again now (its next attempt is due)."""
        return (
            self.conn.execute(
                "SELECT 1 FROM dead_letters WHERE retry_at IS NOT NULL AND retry_at <= ? LIMIT 1",
                (db.now_ms(),),
            ).fetchone()
            is not None
        )

    def postpone_dead_letter(self, stream: str, seq: int) -> int:
        """A dead letter sent again failed transiently (5xx, no answer): count the attempt and set its next
        attempt ``RETRY_DELAY_S`` × 2^(attempts − 1) later (at most ``RETRY_DELAY_CAP_S``); the request stays.
        Answers the delay in seconds."""
        row = self.conn.execute(
            "SELECT attempts FROM dead_letters WHERE stream = ? AND seq = ?", (stream, seq)
        ).fetchone()
        attempts = (int(row[0]) if row else 0) + 1
        delay = int(pause_after(attempts, RETRY_DELAY_S, RETRY_DELAY_CAP_S))
        with db.transaction(self.conn, "postponing a dead letter sent again"):
            self.conn.execute(
                "UPDATE dead_letters SET attempts = ?, retry_at = ? WHERE stream = ? AND seq = ? "
                "AND retry_at IS NOT NULL",
                (attempts, db.now_ms() + delay * 1000, stream, seq),
            )
        return delay

    def dead_letters_due(self, stream: str, limit: int = 100) -> list[Record]:
        """The dead letters of ``stream`` asked to be sent again whose attempt is due, as records to send (oldest
        seq first).

        Events and readings are sent as they were set aside; a submission is read from ``submissions`` again, so
        that it carries its personal data (kept there while the central did not have it).
        """
        rows = self.conn.execute(
            "SELECT seq, record FROM dead_letters WHERE stream = ? AND retry_at IS NOT NULL AND retry_at <= ? "
            "ORDER BY seq LIMIT ?",
            (stream, db.now_ms(), limit),
        ).fetchall()
        if stream != "submissions":
            return [json.loads(record) for _seq, record in rows]
        records: list[Record] = []
        for seq, _record in rows:
            row = self.conn.execute(_SUBMISSION_SQL, (seq,)).fetchone()
            if row is None:
                continue
            s, uuid, number, kind, at, offset, due_date, public, personal = row
            records.append({"seq": s, "uuid": uuid, "number": number, "kind": kind, "at": at, "offset": offset,
                            "due_date": due_date, "public": json.loads(public),
                            "personal": json.loads(personal) if personal is not None else None})  # fmt: skip
        return records

    def resolve_dead_letters(self, stream: str, seqs: list[int]) -> int:
        """The central has stored these dead letters: forget them and, for submissions, purge their personal data
        (in the same transaction, on the durable connection, owing a TRUNCATE checkpoint as
        :meth:`~gateway.store.Store.purge_personal` does). Answers how many were forgotten."""
        if not seqs:
            return 0
        marks = ", ".join("?" * len(seqs))
        conn = self.durable_conn
        with db.transaction(conn, "forgetting dead letters the central now has"):
            cur = conn.execute(
                f"DELETE FROM dead_letters WHERE stream = ? AND seq IN ({marks})", (stream, *seqs)
            )
            purged = 0
            if stream == "submissions":
                purged = conn.execute(
                    f"UPDATE submissions SET personal = NULL, purged_at = ? WHERE seq IN ({marks}) "
                    "AND personal IS NOT NULL",
                    (db.now_ms(), *seqs),
                ).rowcount
                if purged:
                    db.owe_checkpoint(conn)  # purged means gone from the WAL too (see Store.purge_personal)
        if purged:
            with contextlib.suppress(StoreError):  # the debt stays recorded: the sync process tries again
                db.settle_checkpoint(conn)
        return cur.rowcount
