"""A citizen's submission once stored: the officer's decision sent down to the kiosk that took it (through
the changes feed), and what any kiosk may show of it when a citizen checks its number (never personal data).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.vocabulary import DUE_KINDS, SubmissionStatus
from sync import protocol
from sync.central import db
from sync.central.db import content, submissions
from sync.central.errors import CentralError
from sync.central.service.changes import publish_content
from sync.central.service.formats import SHA256_RE, iso_utc, now_ms


def set_submission_status(
    engine: Engine,
    gateway_id: str,
    number: str,
    status: str,
    *,
    answer: str | None = None,
    answered_at: str | None = None,
    due_date: str | None = None,
    due_kind: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> int:
    """An officer's decision on a citizen's submission, sent down to the gateway that took it.

    ``due_date`` is the current deadline (ISO date) and ``due_kind`` what it is the deadline of (one of
    :data:`DUE_KINDS`: the answer, a complaint's verification or follow-up, the day a complaint closes by
    itself, or "none" when no deadline runs, e.g. a deferred complaint); without ``due_kind`` a missing
    ``due_date`` falls back to the one the kiosk computed.
    ``attachments``: the answer's documents ``{"name", "sha256", "size"}``, whose bytes are in the files
    folder (:func:`store_file`) and reach the kiosk through ``/api/v1/files/<sha256>``.
    Raises CentralError for an unknown submission or a malformed value.
    """
    with db.reading(engine) as conn:
        known = conn.execute(
            sa.select(submissions.c.due_date)
            .where(submissions.c.gateway_id == gateway_id, submissions.c.number == number)
            .limit(1)
        ).first()
    if known is None:
        raise CentralError(f"no submission {number!r} from gateway {gateway_id!r}")
    if status == "answered" and answered_at is None:
        answered_at = iso_utc(now_ms())
    if due_kind is not None and due_kind not in DUE_KINDS:
        raise CentralError("a due date's kind is one of " + ", ".join(DUE_KINDS))
    data: dict[str, Any] = {"status": status, "answer": answer, "answered_at": answered_at,
                            "due_date": due_date if due_kind else due_date or known[0]}  # fmt: skip
    if due_kind is not None:
        data["due_kind"] = due_kind
    if attachments is not None:
        data["attachments"] = [_attachment(a) for a in attachments]
    return publish_content(engine, "submission", number, data, gateway_id=gateway_id)


def _attachment(item: Mapping[str, Any]) -> dict[str, Any]:
    sha256, size = str(item.get("sha256") or ""), item.get("size")
    if not SHA256_RE.match(sha256) or not isinstance(size, int) or size < 0:
        raise CentralError("an attachment is {name, sha256, size}")
    return {"name": str(item.get("name") or sha256[:12])[:200], "sha256": sha256, "size": size}


def status_lookup(engine: Engine, number: str, code: str | None) -> dict[str, Any] | None:
    """What a kiosk may show about submission ``number``: None when unknown; its status only without the
    right code; with it, also the due date and the officer's answer. Never personal data.
    """
    with db.reading(engine) as conn:  # a read: a snapshot, never the write lock
        row = conn.execute(
            sa.select(submissions.c.gateway_id, submissions.c.kind, submissions.c.due_date,
                      submissions.c.access_hash, submissions.c.at_ms, submissions.c.true_ms, submissions.c.clock_ok)
            .where(submissions.c.number == number).order_by(submissions.c.seq).limit(1)
        ).first()  # fmt: skip
        if row is None:
            return None
        data = conn.execute(
            sa.select(content.c.data).where(
                content.c.scope == row.gateway_id, content.c.kind == "submission", content.c.item_id == number,
                content.c.op == "upsert",
            )
        ).scalar()  # fmt: skip
    status = json.loads(data) if data else {}
    out: dict[str, Any] = {
        "number": number,
        "status": status.get("status", SubmissionStatus.RECEIVED),
        "full": False,
    }
    if protocol.code_matches(number, code, row.access_hash):
        out.update(
            full=True,
            kind=row.kind,
            submitted_at=iso_utc(row.true_ms if row.clock_ok else row.at_ms),
            due_date=status.get("due_date") or row.due_date,
            due_kind=status.get("due_kind"),
            answer=status.get("answer"),
            answered_at=status.get("answered_at"),
        )
    return out
