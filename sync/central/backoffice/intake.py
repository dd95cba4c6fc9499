"""Cases from submissions: each submission a gateway sends becomes a case of the back office.

A case is made the first time the back office looks after the submission arrived (the inbox, a report, a
bench): :func:`sync_cases` compares, per gateway, how many submissions the central stored with how many it
already made cases of, and reads only the gateways that are behind, so that a look with nothing new costs one
small query. The deadline of the first stage is counted in working days from the day of receipt (office time,
WIB) on the regency's calendar.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from gateway import dates, regno
from gateway.errors import AnjunganError
from gateway.vocabulary import SubmissionKind
from sync.central.backoffice import calendar
from sync.central.backoffice.models import case_sync, cases
from sync.central.db import stream_state, submissions

OFFICE_TZ = timezone(timedelta(hours=7), "WIB")
BATCH = 2000
ANALYZE_AFTER = 5000  # cases made at once after which PostgreSQL's statistics are refreshed at once
FIRST_STAGE_DAYS: dict[str, int] = {
    SubmissionKind.REQUEST: dates.REQUEST_DAYS,
    SubmissionKind.OBJECTION: dates.OBJECTION_ANSWER_DAYS,
    SubmissionKind.COMPLAINT: dates.COMPLAINT_VERIFY_DAYS,
}
_TEXT_FIELDS = ("judul", "isi", "lokasi", "rincian", "tujuan", "uraian", "nomor_permohonan", "kategori")


def office_date(ms: int) -> date:
    """The office's calendar day (WIB) of a moment in ms since the epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(OFFICE_TZ).date()


def behind(conn: Connection) -> dict[str, tuple[int, bool]]:
    """The gateways with submissions that have no case yet: ``{gateway_id: (stored count, known before)}``."""
    stored = dict(conn.execute(sa.select(stream_state.c.gateway_id, stream_state.c.stored)
                               .where(stream_state.c.stream == "submissions")).all())  # fmt: skip
    done = dict(conn.execute(sa.select(case_sync.c.gateway_id, case_sync.c.cases)).all())
    return {g: (n, g in done) for g, n in stored.items() if n > done.get(g, 0)}


def sync_cases(engine: Engine) -> int:
    """Make the cases of submissions that have none yet; answer how many rows the driver reports inserted."""
    with engine.connect() as conn:
        todo = behind(conn)
    made = sum(_sync_gateway(engine, gateway_id, count, known) for gateway_id, (count, known) in todo.items())
    if made >= ANALYZE_AFTER and engine.dialect.name == "postgresql":
        with (
            engine.begin() as conn
        ):  # a bulk intake (a backlog after an outage): plan the inbox on fresh statistics
            conn.exec_driver_sql("ANALYZE bo_cases")
    return made


def _sync_gateway(engine: Engine, gateway_id: str, stored: int, known: bool) -> int:
    made, after = 0, -1
    missing = ~sa.exists().where(cases.c.gateway_id == submissions.c.gateway_id,
                                 cases.c.number == submissions.c.number)  # fmt: skip
    while True:
        with engine.begin() as conn:
            cal = calendar.load(conn)
            rows = conn.execute(
                sa.select(submissions).where(submissions.c.gateway_id == gateway_id, submissions.c.seq > after,
                                             missing).order_by(submissions.c.seq).limit(BATCH)
            ).mappings().all()  # fmt: skip
            values = [case_values(row, cal) for row in rows]
            if values:
                made += _insert_new(conn, values)
            if len(rows) < BATCH:
                _set_done(conn, gateway_id, stored, known)
                return made
        after = rows[-1]["seq"]


def _insert_new(conn: Connection, values: list[dict[str, Any]]) -> int:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(cases).on_conflict_do_nothing()
    return max(0, int(conn.execute(statement, values).rowcount or 0))


def _set_done(conn: Connection, gateway_id: str, stored: int, known: bool) -> None:
    if known:
        conn.execute(case_sync.update().where(case_sync.c.gateway_id == gateway_id).values(cases=stored))
    else:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(case_sync).values(gateway_id=gateway_id, cases=stored)
        conn.execute(insert.on_conflict_do_update(index_elements=["gateway_id"], set_={"cases": stored}))


def case_values(row: Any, cal: dates.WorkCalendar) -> dict[str, Any]:
    """The first state of a submission's case (``row``: a row of the central's submissions table)."""
    public = json.loads(row["public"])
    kind = row["kind"]
    received_ms = row["true_ms"] if row["clock_ok"] and row["true_ms"] is not None else row["at_ms"]
    received = office_date(received_ms)
    due = cal.add_working_days(received, FIRST_STAGE_DAYS.get(kind, dates.REQUEST_DAYS))
    return {
        "gateway_id": row["gateway_id"],
        "number": row["number"],
        "seq": row["seq"],
        "kind": kind,
        "received_ms": received_ms,
        "received_date": received.isoformat(),
        "category": _category(kind, public),
        "title": _title(kind, public)[:300],
        "search_text": search_text(public),
        "anonymous": bool(public.get("anonim")) or row["personal"] is None,
        "confidential": bool(public.get("rahasia")),
        "related_number": _related(public) if kind == "objection" else None,
        "status": "baru",
        "is_open": True,
        "opd": None,
        "due_date": due.isoformat(),
        "extended": False,
        "details": "{}",
        "updated_ms": received_ms,
    }


def search_text(public: dict[str, Any]) -> str:
    """The public text of a submission, lower-cased, for the inbox's full-text search."""
    parts = [str(public[k]) for k in _TEXT_FIELDS if isinstance(public.get(k), str) and public.get(k)]
    return " ".join(parts).lower()


def _title(kind: str, public: dict[str, Any]) -> str:
    if kind == "complaint":
        return str(public.get("judul") or public.get("isi") or "")
    if kind == "objection":
        return f"Keberatan atas {public.get('nomor_permohonan', '')}: {public.get('uraian', '')}"
    return str(public.get("rincian") or "")


def _category(kind: str, public: dict[str, Any]) -> str | None:
    if kind == "complaint":
        return str(public.get("kategori") or "lainnya")[:48]
    if kind == "objection":
        grounds = public.get("alasan") or []
        return ",".join(sorted(str(g) for g in grounds))[:48] or None
    return None


def _related(public: dict[str, Any]) -> str | None:
    text = str(public.get("nomor_permohonan") or "")
    try:
        return str(regno.parse(text))
    except AnjunganError:
        return text.strip().upper()[:64] or None
