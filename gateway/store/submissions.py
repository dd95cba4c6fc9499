"""Citizens' submissions: saved durably with their registration number and status code, read back without
their personal data, and purged of it once the central has it (docs/sync.md, "Personal data")."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid as uuid_mod
from collections.abc import Mapping
from datetime import date
from typing import Any

from gateway import regno, statuscode
from gateway.errors import StoreError
from gateway.store import backups, db
from gateway.store.base import StoreBase
from gateway.store.rows import Receipt, Submission, SubmissionSummary, to_json
from gateway.vocabulary import SUBMISSION_KINDS, SubmissionStatus

_SUBMISSION_COLUMNS = (
    "seq, uuid, number, kind, day, at, due_date, status, answer, answered_at, updated_at, public, due_kind, "
    "attachments, notify_sms"
)


class SubmissionsMixin(StoreBase):
    """The submissions' queries of :class:`~gateway.store.Store`."""

    def add_submission(
        self,
        kind: str,
        public: Mapping[str, Any],
        personal: Mapping[str, Any] | None,
        *,
        gateway_id: str,
        due_date: date | None,
        day: date | None = None,
        idempotency_key: str | None = None,
        code: str | None = None,
        notify_sms: bool = False,
    ) -> Receipt:
        """Save a citizen's submission durably (synchronous=FULL) and give it its registration number.

        ``kind`` is one of :data:`~gateway.vocabulary.SUBMISSION_KINDS`; the status starts as ``received``.

        The number's daily ordinal is counted inside the same ``BEGIN IMMEDIATE`` transaction, so two kiosk
        threads or processes never hand out the same number. The submission also gets its status code
        (:mod:`gateway.statuscode`): ``code`` when given (canonical; the kiosk derives it from the form's key, so
        that a repeat shows the same one), else a fresh random one; only its hash is stored and travels to the
        central. ``idempotency_key`` (a string of at most 64 characters, e.g. the random key of a served form) makes the
        call idempotent: the key is looked up in that same transaction, and a repeat (a double tap, a resend
        after a slow answer, concurrent or not) stores nothing and returns the first submission under that key.
        ``notify_sms``: the citizen asked to be told of changes by SMS (the central texts the phone number of
        ``personal``; ignored without personal data).
        Returns the stored record (without personal data) with ``repeat``: True when the key had been used
        already, and the status code under ``"code"`` — the one time it exists in the clear, for the receipt
        (on a repeat: ``code`` when it matches the stored hash, else None).

        Raises :class:`StoreError` for an unknown kind, a key that is too long or was used for another kind,
        or when the store cannot be written (:class:`StoreFullError` on a full disk).
        """
        if kind not in SUBMISSION_KINDS:
            raise StoreError(f"a submission's kind is one of {', '.join(SUBMISSION_KINDS)}, not {kind!r}")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 64:
            raise StoreError("an idempotency key has 1 to 64 characters")
        day = day or date.today()
        conn = self.durable_conn
        with db.transaction(conn, "saving the submission"):
            number = self._by_key(conn, idempotency_key, kind)
            repeat = number is not None
            if number is None:
                code = code or statuscode.new_code()
                number = self._insert(conn, kind, public, personal, gateway_id, due_date, day, idempotency_key,
                                      code, notify_sms and personal is not None)  # fmt: skip
        if repeat and not (code and self.status_code_matches(number, code)):
            code = None
        record = self.submission(number)
        assert record is not None
        return {**record, "code": code, "repeat": repeat}

    def _by_key(self, conn: sqlite3.Connection, key: str | None, kind: str) -> str | None:
        """The number of the submission stored under idempotency ``key`` (None: none, or no key)."""
        if key is None:
            return None
        row = conn.execute(
            "SELECT number, kind FROM submissions WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is not None and row[1] != kind:
            raise StoreError(f"this idempotency key belongs to a {row[1]}, not to a {kind}")
        return str(row[0]) if row else None

    def _insert(self, conn: sqlite3.Connection, kind: str, public: Mapping[str, Any],
                personal: Mapping[str, Any] | None, gateway_id: str, due_date: date | None,
                day: date, key: str | None, code: str, notify_sms: bool = False) -> str:  # fmt: skip
        """Insert one submission with the next number of ``day`` and the hash of its status code ``code``
        (inside the caller's transaction)."""
        ordinal = conn.execute(
            "SELECT count(*) FROM submissions WHERE day = ?", (day.isoformat(),)
        ).fetchone()
        number = regno.make(gateway_id, day, int(ordinal[0]) + 1)
        conn.execute(
            "INSERT INTO submissions (uuid, number, kind, day, at, offset, due_date, public, personal, status, "
            "access_hash, idempotency_key, notify_sms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(uuid_mod.uuid4()), number, kind, day.isoformat(), self.clock.now_ms(), self.clock_offset(),
             due_date.isoformat() if due_date else None, to_json(dict(public)),
             to_json(dict(personal)) if personal is not None else None, SubmissionStatus.RECEIVED,
             statuscode.access_hash(number, code), key, int(notify_sms)),
        )  # fmt: skip
        return number

    def submission(self, number: str) -> Submission | None:
        """A submission by its registration number — never its personal data. ``notify_sms`` (the citizen asked
        for SMS, with a mobile number) outlives the purge of the personal data: a flag, never the number."""
        cur = self.reader.execute(
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE number = ?", (number,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        record: dict[str, Any] = dict(zip(_SUBMISSION_COLUMNS.split(", "), row, strict=True))
        record["public"] = json.loads(record["public"])
        record["attachments"] = json.loads(record["attachments"]) if record["attachments"] else []
        record["notify_sms"] = bool(record["notify_sms"])
        return record  # type: ignore[return-value]

    def status_code_matches(self, number: str, code: str | None) -> bool:
        """Whether ``code`` (as typed) is the status code of this gateway's submission ``number``."""
        row = self.reader.execute(
            "SELECT access_hash FROM submissions WHERE number = ?", (number,)
        ).fetchone()
        return row is not None and statuscode.matches(number, code, row[0])

    def purge_personal(self, through_seq: int) -> int:
        """Drop the personal data of submissions the central has stored: seq <= ``through_seq`` (acknowledged)
        except the dead letters, which the central refused (their seqs are below its acked seq all the same).

        Purged means gone from the disk, not only from queries: every connection runs with ``secure_delete``
        (the old row's bytes are zeroed in its page), and the purge records in the same transaction that a
        TRUNCATE checkpoint is owed (meta ``checkpoint_owed``), then tries it at once; a reader holding a
        snapshot makes it give up, and the debt stays until :meth:`settle_checkpoint` completes one (the sync
        process tries every round and every few seconds while idle), so the pages that held the data leave
        the ``-wal`` file too. Returns how many submissions lost their personal data.
        """
        with db.transaction(self.durable_conn, "purging personal data"):
            cur = self.durable_conn.execute(
                "UPDATE submissions SET personal = NULL, purged_at = ? WHERE seq <= ? AND personal IS NOT NULL "
                "AND seq NOT IN (SELECT seq FROM dead_letters WHERE stream = 'submissions')",
                (db.now_ms(), through_seq),
            )
            if cur.rowcount:
                db.owe_checkpoint(self.durable_conn)
        if cur.rowcount:
            with contextlib.suppress(StoreError):  # the debt stays recorded: the sync process tries again
                db.settle_checkpoint(self.durable_conn)
        return cur.rowcount

    def recent_submissions(self, limit: int = 100) -> list[SubmissionSummary]:
        """The newest submissions for the operator: number, kind, day, status, due date — no personal data."""
        rows = self._query(
            "SELECT number, kind, day, status, due_date, answered_at, personal IS NOT NULL AS holds_personal "
            "FROM submissions ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        return rows  # type: ignore[return-value]  # the columns are SubmissionSummary's keys

    def submission_counts(self) -> dict[str, int]:
        """Submissions per status."""
        rows = self.reader.execute("SELECT status, count(*) FROM submissions GROUP BY status ORDER BY status")
        return {status: count for status, count in rows}

    def purge_mark(self) -> tuple[int, int | None]:
        """(how many submissions were ever purged, when the last purge was, ms): it changes with every purge."""
        count, last = self.conn.execute(
            "SELECT count(*), max(purged_at) FROM submissions WHERE purged_at IS NOT NULL"
        ).fetchone()
        return int(count), last

    def holding_personal(self) -> set[str]:
        """The uuids of the submissions whose personal data the store still holds (those the central does not
        have yet, and refused ones)."""
        return backups.holding_personal(self.conn)
