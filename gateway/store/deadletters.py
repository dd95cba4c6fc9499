"""The dead letters: records the central refused (or failed on, again and again), set aside with the reason.

They never block their stream (the outbox leaves them out). A person looks at them (``anjungan sync
dead-letters list``, the kiosk's operator page) and, after a fix, asks for them to be sent again
(:func:`request_retry`); the sync side then sends them (:func:`due`) and, once the central has stored them,
forgets them (:func:`resolve`), which is also when a submission's personal data is purged. A submission's
dead letter never holds personal data: that stays in ``submissions`` until the central has it.

Every function takes a :class:`~gateway.store.Store`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from gateway.errors import StoreError
from gateway.store import db, iso_utc
from gateway.vocabulary import STREAMS

_SUBMISSION_SQL = (
    "SELECT seq, uuid, number, kind, at, offset, due_date, public, personal FROM submissions WHERE seq = ?"
)


def _summary(stream: str, record: dict[str, Any]) -> str:
    """A short line saying which record it is, never personal data."""
    if stream == "submissions":
        return f"{record.get('kind')} {record.get('number')}"
    if stream == "events":
        node = record.get("node")
        return f"{record.get('kind')}" + (f" of {node}" if node else "")
    return f"{record.get('node')} {record.get('name')}={record.get('value')} (boot {record.get('boot')}, q {record.get('q')})"


def listing(store: Any, stream: str | None = None) -> list[dict[str, Any]]:
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
    out = []
    for row_stream, seq, at, reason, record_json, attempts, retry_at in store.conn.execute(
        sql + " ORDER BY at, stream, seq", args
    ):
        record = json.loads(record_json)
        item = {"stream": row_stream, "seq": seq, "at": iso_utc(at), "reason": reason, "attempts": attempts,
                "retry_requested": retry_at is not None, "summary": _summary(row_stream, record)}  # fmt: skip
        if row_stream == "submissions":
            item.update(number=record.get("number"), kind=record.get("kind"))
        out.append(item)
    return out


def request_retry(store: Any, stream: str | None = None, seqs: Iterable[int] | None = None) -> int:
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
    with db.transaction(store.conn, "asking for dead letters to be sent again"):
        cur = store.conn.execute(f"UPDATE dead_letters SET retry_at = ? WHERE {' AND '.join(where)}", args)
    return cur.rowcount


def retry_wanted(store: Any) -> bool:
    """Some dead letter waits to be sent again now (its next attempt is due)."""
    return (
        store.conn.execute(
            "SELECT 1 FROM dead_letters WHERE retry_at IS NOT NULL AND retry_at <= ? LIMIT 1", (db.now_ms(),)
        ).fetchone()
        is not None
    )


RETRY_DELAY_S = 30  # after a transient failure of a dead letter sent again: 30 s, doubled per attempt ...
RETRY_DELAY_CAP_S = 3600  # ... up to an hour


def postpone(store: Any, stream: str, seq: int) -> int:
    """A dead letter sent again failed transiently (5xx, no answer): count the attempt and set its next
    attempt ``RETRY_DELAY_S`` × 2^(attempts − 1) later (at most ``RETRY_DELAY_CAP_S``); the request stays.
    Answers the delay in seconds."""
    row = store.conn.execute(
        "SELECT attempts FROM dead_letters WHERE stream = ? AND seq = ?", (stream, seq)
    ).fetchone()
    attempts = (row[0] if row else 0) + 1
    delay = min(RETRY_DELAY_CAP_S, RETRY_DELAY_S * 2 ** min(attempts - 1, 20))
    with db.transaction(store.conn, "postponing a dead letter sent again"):
        store.conn.execute(
            "UPDATE dead_letters SET attempts = ?, retry_at = ? WHERE stream = ? AND seq = ? "
            "AND retry_at IS NOT NULL",
            (attempts, db.now_ms() + delay * 1000, stream, seq),
        )
    return delay


def due(store: Any, stream: str, limit: int = 100) -> list[dict[str, Any]]:
    """The dead letters of ``stream`` asked to be sent again whose attempt is due, as records to send (oldest
    seq first).

    Events and readings are sent as they were set aside; a submission is read from ``submissions`` again, so
    that it carries its personal data (kept there while the central did not have it).
    """
    rows = store.conn.execute(
        "SELECT seq, record FROM dead_letters WHERE stream = ? AND retry_at IS NOT NULL AND retry_at <= ? "
        "ORDER BY seq LIMIT ?",
        (stream, db.now_ms(), limit),
    ).fetchall()
    if stream != "submissions":
        return [json.loads(record) for _seq, record in rows]
    records = []
    for seq, _record in rows:
        row = store.conn.execute(_SUBMISSION_SQL, (seq,)).fetchone()
        if row is None:
            continue
        s, uuid, number, kind, at, offset, due_date, public, personal = row
        records.append({"seq": s, "uuid": uuid, "number": number, "kind": kind, "at": at, "offset": offset,
                        "due_date": due_date, "public": json.loads(public),
                        "personal": json.loads(personal) if personal is not None else None})  # fmt: skip
    return records


def resolve(store: Any, stream: str, seqs: list[int]) -> int:
    """The central has stored these dead letters: forget them and, for submissions, purge their personal data
    (in the same transaction, on the durable connection, owing a TRUNCATE checkpoint as
    :meth:`Store.purge_personal` does). Answers how many were forgotten."""
    if not seqs:
        return 0
    marks = ", ".join("?" * len(seqs))
    conn = store.durable_conn
    with db.transaction(conn, "forgetting dead letters the central now has"):
        cur = conn.execute(f"DELETE FROM dead_letters WHERE stream = ? AND seq IN ({marks})", (stream, *seqs))
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
