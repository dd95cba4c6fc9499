"""What officers do with a case, as UU 14/2008, Perki 1/2021 and SP4N-LAPOR! name the steps.

Statuses (Indonesian, as the officers say them): ``baru`` (received), ``diverifikasi``, ``didisposisi``
(assigned to an OPD), ``ditunda`` (deferred), ``dijawab`` (answered / tanggapan / decided), ``ditolak`` (refused:
bukan wewenang, duplicate), ``selesai`` (closed). Each step checks the officer's role and OPD and the case's
status, updates the case, appends an audit entry with the values before and after in the same transaction, and
then sends the citizen-facing status down to the kiosk that took the submission (the changes feed, through
``service.set_submission_status``).

Deadlines (working days, :mod:`gateway.dates` plus local days off): a request is answered within 10 of receipt,
extended once by at most 7 (Ps. 22(7)-(8)); an objection within 30 (Ps. 36(2)); a complaint is verified within 3,
followed up within 5 of verification, and closed 10 after a reply (SP4N-LAPOR!).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.engine import Connection, Engine

from gateway import dates
from gateway.vocabulary import CASE_STATUSES
from sync.central import service
from sync.central.backoffice import audit, calendar, uploads
from sync.central.backoffice.accounts import Officer
from sync.central.backoffice.errors import BackofficeError, Conflict, NotAllowed, NotFoundError
from sync.central.backoffice.intake import office_date
from sync.central.backoffice.models import attachments, cases, opds
from sync.central.backoffice.roles import can
from sync.central.db import submissions
from sync.central.sms import queue as sms_queue

STATUSES = CASE_STATUSES
ACTIVE = ("baru", "diverifikasi", "didisposisi", "ditunda")  # the office still owes the next step
ANSWERED = ("dijawab", "ditolak", "selesai")  # the citizen has the office's answer (no more attachments)
AUDITED = ("status", "opd", "due_date", "extended", "details", "is_open")
PERSONAL_FIELDS = ("nama", "nik", "alamat", "pekerjaan", "telepon", "email")


def key_of(case: dict[str, Any]) -> str:
    return f"{case['gateway_id']}/{case['number']}"


def visible(me: Officer) -> Any:
    """The SQL condition of the cases an officer may see (pelaksana: their OPD's; atasan: objections)."""
    if me.role == "ppid":
        return sa.true()
    if me.role == "pelaksana":
        return cases.c.opd == me.opd
    if me.role == "atasan":
        return cases.c.kind == "objection"
    return sa.false()


def _can_view(conn: Connection, case: dict[str, Any], me: Officer) -> bool:
    if me.role == "ppid" or (me.role == "pelaksana" and case["opd"] == me.opd and me.opd):
        return True
    if me.role == "atasan":
        if case["kind"] == "objection":
            return True
        linked = sa.select(cases.c.number).where(
            cases.c.kind == "objection", cases.c.related_number == case["number"]
        )
        return case["kind"] == "request" and conn.execute(linked.limit(1)).first() is not None
    return False


def _load(conn: Connection, gateway_id: str, number: str, *, lock: bool = False) -> dict[str, Any]:
    query = sa.select(cases).where(cases.c.gateway_id == gateway_id, cases.c.number == number)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
    found = dict(row)
    found["details"] = json.loads(found["details"] or "{}")
    return found


def case_for(engine: Engine, me: Officer, gateway_id: str, number: str) -> dict[str, Any]:
    """A case with its public text, attachments and linked cases; NotFoundError when the officer may not see it."""
    with engine.connect() as conn:
        case = _load(conn, gateway_id, number)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
        public = conn.execute(sa.select(submissions.c.public).where(
            submissions.c.gateway_id == gateway_id, submissions.c.number == number).limit(1)).scalar()  # fmt: skip
        case["public"] = json.loads(public) if public else {}
        case["attachments"] = [dict(r) for r in conn.execute(sa.select(attachments).where(
            attachments.c.gateway_id == gateway_id, attachments.c.number == number).order_by(attachments.c.id)
        ).mappings()]  # fmt: skip
        related = [case["related_number"]] if case["related_number"] else []
        linked = conn.execute(sa.select(cases.c.gateway_id, cases.c.number, cases.c.kind, cases.c.status).where(
            sa.or_(cases.c.number.in_(related), cases.c.related_number == number))).mappings().all()  # fmt: skip
        case["linked"] = [
            dict(r) for r in linked if _can_view(conn, _load(conn, r["gateway_id"], r["number"]), me)
        ]
    return case


def personal_data(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, now_ms: int
                  ) -> dict[str, Any]:  # fmt: skip
    """The citizen's identity, for the roles that need it, on an explicit request that is audited.

    NotAllowed for teknisi/admin, for anonymous complaints (their identity is never kept nor shown), and for
    the atasan on anything but an objection: the atasan reads the request an objection names, but the
    identity of that request's filer (who may be another citizen) is not theirs to see.
    """
    if not can(me.role, "personal"):
        raise NotAllowed(_("Peran Anda tidak boleh melihat data pribadi."))
    with engine.begin() as conn:
        case = _load(conn, gateway_id, number)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
        if not may_see_identity(me.role, case["kind"]):
            raise NotAllowed(_("Peran Anda tidak boleh melihat data pribadi pada berkas ini."))
        if case["anonymous"]:
            raise NotAllowed(_("Pengaduan anonim: identitas pelapor tidak disimpan dan tidak ditampilkan."))
        raw = conn.execute(sa.select(submissions.c.personal).where(
            submissions.c.gateway_id == gateway_id, submissions.c.number == number).limit(1)).scalar()  # fmt: skip
        audit.record(conn, actor, "view-personal", key_of(case), now_ms)
    data = json.loads(raw) if raw else {}
    return {k: data[k] for k in PERSONAL_FIELDS if data.get(k)} | {
        k: v for k, v in data.items() if k not in PERSONAL_FIELDS and isinstance(v, str)}  # fmt: skip


def attachment_for(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str,
                   attachment_id: int, now_ms: int) -> dict[str, Any]:  # fmt: skip
    """An attachment of a case (``{"filename", "sha256", "size", ...}``), for an officer who may see the case
    (exactly as :func:`case_for`); the download is audited like a view of the case's documents.
    NotFoundError when the officer may not see the case or it has no such attachment."""
    with engine.begin() as conn:
        case = _load(conn, gateway_id, number)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
        row = conn.execute(sa.select(attachments).where(
            attachments.c.id == attachment_id, attachments.c.gateway_id == gateway_id,
            attachments.c.number == number)).mappings().first()  # fmt: skip
        if row is None:
            raise NotFoundError(_("Lampiran tidak ada."))
        audit.record(conn, actor, "view-attachment", key_of(case), now_ms, None,
                     {"sha256": row["sha256"], "filename": row["filename"]})  # fmt: skip
    return dict(row)


def may_see_identity(role: str, kind: str) -> bool:
    """Whether ``role`` may be shown the identity on a case of ``kind``: the atasan only on objections (the
    objection's own filer, UU 14/2008 Ps. 35-36); ppid and pelaksana on what they may open."""
    if role == "atasan":
        return kind == "objection"
    return can(role, "personal")


def check_step(engine: Engine, me: Officer, gateway_id: str, number: str, capability: str | None) -> None:
    """Before reading a step's form: NotFoundError when the officer may not see the case, NotAllowed when the
    role lacks ``capability`` (None: the step checks the role itself)."""
    with engine.connect() as conn:
        case = _load(conn, gateway_id, number)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
    if capability is not None:
        _need_role(me, capability)


# --- steps -------------------------------------------------------------------------------------------------

Change = Callable[[dict[str, Any], dates.WorkCalendar, date], dict[str, Any]]


def _step(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, action: str,
          now_ms: int, change: Change) -> dict[str, Any]:  # fmt: skip
    """Apply one step in a transaction with its audit entry, then tell the kiosk; answer the new case."""
    with engine.begin() as conn:
        case = _load(conn, gateway_id, number, lock=True)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
        cal = calendar.load(conn)
        updates = change(case, cal, office_date(now_ms))
        new = {**case, **updates}
        stored = {k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if k == "details" else v)
                  for k, v in updates.items()}  # fmt: skip
        conn.execute(cases.update().where(cases.c.gateway_id == gateway_id, cases.c.number == number)
                     .values(**stored, updated_ms=now_ms))  # fmt: skip
        before = {k: case[k] for k in AUDITED if k in updates and case[k] != updates[k]}
        after = {k: updates[k] for k in before}
        audit.record(conn, actor, action, key_of(case), now_ms, before, after)
        _tell_by_sms(conn, action, new, now_ms)
    publish_status(engine, new)
    return new


# the steps the citizen is told of by SMS (when they asked for it), and what each tells
SMS_EVENTS = {"answer": "answered", "respond": "answered", "decide": "answered", "extend": "extended",
              "defer": "deferred", "refuse": "rejected", "close": "closed"}  # fmt: skip


def _tell_by_sms(conn: Connection, action: str, case: dict[str, Any], now_ms: int) -> None:
    """Queue the citizen's SMS of this step (sync/central/sms/queue.py), in the step's transaction; the step's
    ordinal in the case's log tells it from an earlier step of the same kind (a second deferral)."""
    event = SMS_EVENTS.get(action)
    if event is None:
        return
    if event == "answered" and kiosk_status(case) == "rejected":
        event = "rejected"
    sms_queue.enqueue(conn, case, event, str(len(case["details"].get("log", []))), now_ms)


def publish_status(engine: Engine, case: dict[str, Any]) -> None:
    """Send the citizen-facing status of a case down to its kiosk (the changes feed): the status, the answer,
    the current deadline and what it is the deadline of, and, once the case is answered, the answer's
    attached documents (their bytes reach the kiosk through the files downlink)."""
    details = case["details"]
    due_date, due_kind = kiosk_deadline(case)
    documents = None
    if case["status"] in ANSWERED:
        with engine.connect() as conn:
            documents = [
                {"name": r.filename, "sha256": r.sha256, "size": int(r.size)}
                for r in conn.execute(sa.select(attachments.c.filename, attachments.c.sha256, attachments.c.size)
                                      .where(attachments.c.gateway_id == case["gateway_id"],
                                             attachments.c.number == case["number"]).order_by(attachments.c.id))
            ]  # fmt: skip
    service.set_submission_status(engine, case["gateway_id"], case["number"], kiosk_status(case),
                                  answer=details.get("kiosk_answer"), answered_at=details.get("answered_at"),
                                  due_date=due_date, due_kind=due_kind, attachments=documents)  # fmt: skip


def kiosk_deadline(case: dict[str, Any]) -> tuple[str | None, str | None]:
    """The deadline the citizen sees and what it is for (gateway.vocabulary.DueKind): a request's or objection's
    answer (the extended one after an extension, and the one that applied once answered); a complaint's
    verification, follow-up (which keeps running while the complaint is deferred), or the day it closes by
    itself after the reply (SP4N-LAPOR!)."""
    status = case["status"]
    if case["kind"] == "complaint":
        stage = {"baru": "verification", "diverifikasi": "follow-up", "didisposisi": "follow-up",
                 "ditunda": "follow-up", "dijawab": "auto-close"}.get(status)  # fmt: skip
        return (case["due_date"], stage) if stage and case["due_date"] else (None, "none")
    due = case["due_date"] or case.get("answer_due")
    return (due, "answer") if due else (None, "none")


def kiosk_status(case: dict[str, Any]) -> str:
    """The kiosk's status (gateway.vocabulary.SubmissionStatus) for a case."""
    status = case["status"]
    if status == "baru":
        return "received"
    if status in ("diverifikasi", "didisposisi", "ditunda"):
        return "extended" if case["extended"] else "in-progress"
    if status == "dijawab":
        refused = case["kind"] == "request" and case["details"].get("answer", {}).get("decision") == "ditolak"
        return "rejected" if refused else "answered"
    return "rejected" if status == "ditolak" else "closed"


def _need(case: dict[str, Any], kinds: tuple[str, ...], statuses: tuple[str, ...]) -> None:
    if case["kind"] not in kinds:
        raise Conflict(_("Langkah ini tidak berlaku untuk jenis berkas ini."))
    if case["status"] not in statuses:
        raise Conflict(_("Langkah ini tidak dapat dilakukan pada status %(status)s.", status=case["status"]))


def _need_role(me: Officer, capability: str, case: dict[str, Any] | None = None) -> None:
    if not can(me.role, capability):
        raise NotAllowed(_("Peran Anda tidak boleh melakukan langkah ini."))
    if case is not None and me.role == "pelaksana" and case["opd"] != me.opd:
        raise NotAllowed(_("Berkas ini tidak didisposisikan ke OPD Anda."))


def _note(case: dict[str, Any], action: str, text: str, at: date) -> dict[str, Any]:
    details = dict(case["details"])
    details["log"] = [*details.get("log", []), {"action": action, "text": text, "on": at.isoformat()}]
    return details


def verify(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, now_ms: int
           ) -> dict[str, Any]:  # fmt: skip
    """Verify a new request or complaint (a complaint's follow-up stage of 5 working days starts)."""
    _need_role(me, "triage")

    def change(case: dict[str, Any], cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("request", "complaint"), ("baru",))
        due = case["due_date"]
        if case["kind"] == "complaint":
            due = cal.add_working_days(today, dates.COMPLAINT_FOLLOW_UP_DAYS).isoformat()
        details = _note(case, "verifikasi", "", today)
        return {"status": "diverifikasi", "due_date": due, "verified_ms": now_ms, "details": details}

    return _step(engine, me, actor, gateway_id, number, "verify", now_ms, change)


def assign(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, opd: str, note: str,
           now_ms: int) -> dict[str, Any]:  # fmt: skip
    """Disposisi: assign a verified request or complaint to an OPD (again, to move it to another)."""
    _need_role(me, "triage")
    with engine.connect() as conn:
        if not conn.execute(sa.select(opds.c.code).where(opds.c.code == opd)).first():
            raise BackofficeError(_("OPD %(code)s tidak dikenal.", code=opd))

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("request", "complaint"), ("diverifikasi", "didisposisi", "ditunda"))
        updates: dict[str, Any] = {
            "status": "didisposisi",
            "opd": opd,
            "details": _note(case, "disposisi", f"{opd}: {note}".strip(": "), today),
        }
        if (
            case["status"] == "ditunda" and not case["due_date"]
        ):  # deferred before deferrals kept the deadline
            updates["due_date"] = _cal.add_working_days(today, dates.COMPLAINT_FOLLOW_UP_DAYS).isoformat()
        return updates

    return _step(engine, me, actor, gateway_id, number, "assign", now_ms, change)


def extend(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, days: int, reason: str,
           now_ms: int) -> dict[str, Any]:  # fmt: skip
    """Extend a request's deadline once, by 1 to 7 working days, with a reason (UU 14/2008 Ps. 22(8)); the
    extension is notified within the first 10 working days, so it is refused (Conflict) once they have passed."""
    if not 1 <= days <= dates.EXTENSION_DAYS or not reason.strip():
        raise BackofficeError(_("Perpanjangan 1 sampai 7 hari kerja, dengan alasan."))

    def change(case: dict[str, Any], cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need_role(me, "answer", case)
        _need(case, ("request",), ("baru", "diverifikasi", "didisposisi"))
        if case["extended"]:
            raise Conflict(_("Jangka waktu hanya dapat diperpanjang satu kali."))
        if not case["due_date"] or today > date.fromisoformat(case["due_date"]):
            raise Conflict(_("Perpanjangan harus diberitahukan sebelum 10 hari kerja berakhir; "
                             "batas waktunya sudah lewat."))  # fmt: skip
        due = cal.add_working_days(date.fromisoformat(case["due_date"]), days)
        details = _note(case, "perpanjang", reason, today)
        details["extension"] = {"days": days, "reason": reason, "on": today.isoformat()}
        return {"extended": True, "due_date": due.isoformat(), "details": details}

    return _step(engine, me, actor, gateway_id, number, "extend", now_ms, change)


def answer_request(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str,
                   notice: dict[str, Any], now_ms: int) -> dict[str, Any]:  # fmt: skip
    """The written notice (pemberitahuan tertulis, Ps. 22(7)); a refusal names its Ps. 17 exemption and the
    consequence test. ``notice``: held, decision, exemption, consequence, form_of, medium, cost, text."""
    if notice["decision"] in ("sebagian", "ditolak") and not (
        notice.get("exemption") and notice.get("consequence")
    ):
        raise BackofficeError(_("Penolakan (seluruhnya atau sebagian) wajib menyebut pasal pengecualian dan "
                                "uji konsekuensinya."))  # fmt: skip

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need_role(me, "answer", case)
        _need(case, ("request",), ("diverifikasi", "didisposisi"))
        details = _note(case, "jawab", notice["text"], today)
        details.update(answer=notice, answered_at=service.iso_utc(now_ms), kiosk_answer=_notice_text(notice))
        return {
            "status": "dijawab",
            "answered_ms": now_ms,
            "answered_date": today.isoformat(),
            "answer_due": case["due_date"],
            "due_date": None,
            "is_open": False,
            "details": details,
        }

    return _step(engine, me, actor, gateway_id, number, "answer", now_ms, change)


def _notice_text(notice: dict[str, Any]) -> str:
    decisions = {"penuh": "Informasi diberikan seluruhnya.", "sebagian": "Informasi diberikan sebagian.",
                 "ditolak": "Permohonan informasi ditolak."}  # fmt: skip
    lines = [decisions[notice["decision"]]]
    if notice.get("held") == "tidak":
        lines = ["Informasi yang diminta tidak dikuasai oleh badan publik ini."]
    if notice["decision"] != "penuh" and notice.get("exemption"):
        lines.append(f"Dasar pengecualian: UU 14/2008 Pasal 17 huruf {notice['exemption']}.")
    if notice["decision"] != "ditolak":
        lines.append(f"Bentuk: {notice.get('form_of')}; cara penyampaian: {notice.get('medium')}; "
                     f"biaya: Rp{int(notice.get('cost') or 0):,}.".replace(",", "."))  # fmt: skip
    return "\n".join([*lines, "", notice["text"]])


def respond(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, text: str,
            now_ms: int) -> dict[str, Any]:  # fmt: skip
    """Tanggapan to a complaint in follow-up; it closes itself 10 working days later without a reply."""

    def change(case: dict[str, Any], cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need_role(me, "answer", case)
        _need(case, ("complaint",), ("diverifikasi", "didisposisi"))
        details = _note(case, "tanggapan", text, today)
        details.update(answered_at=service.iso_utc(now_ms), kiosk_answer=text)
        return {"status": "dijawab", "answered_ms": now_ms, "answered_date": today.isoformat(),
                "answer_due": case["due_date"], "is_open": False, "details": details,
                "due_date": cal.add_working_days(today, dates.COMPLAINT_CLOSE_DAYS).isoformat()}  # fmt: skip

    return _step(engine, me, actor, gateway_id, number, "respond", now_ms, change)


def refuse(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, reason: str,
           duplicate_of: str | None, text: str, now_ms: int) -> dict[str, Any]:  # fmt: skip
    """Refuse a complaint at verification: bukan wewenang, a duplicate of another report, or not actionable."""
    _need_role(me, "triage")
    if reason == "duplikat":
        with engine.connect() as conn:
            original = conn.execute(sa.select(cases.c.number).where(cases.c.number == (duplicate_of or "").strip()
                                                                    .upper()).limit(1)).first()  # fmt: skip
        if original is None or original[0] == number:
            raise BackofficeError(_("Sebutkan nomor laporan asal yang ada."))

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("complaint",), ("baru", "diverifikasi"))
        details = _note(case, "tolak", text, today)
        details.update(
            refusal={"reason": reason, "duplicate_of": duplicate_of, "text": text}, kiosk_answer=text
        )
        return {
            "status": "ditolak",
            "is_open": False,
            "due_date": None,
            "closed_ms": now_ms,
            "details": details,
        }

    return _step(engine, me, actor, gateway_id, number, "refuse", now_ms, change)


def defer(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, reason: str,
          now_ms: int) -> dict[str, Any]:  # fmt: skip
    """Tunda: put a complaint on hold, with a reason. Its deadline keeps running (the stage's working days of
    SP4N-LAPOR! do not stop), so a deferred complaint stays in the overdue and due-soon filters; it is taken up
    again with :func:`resume` (or assigned to an OPD)."""
    _need_role(me, "triage")

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("complaint",), ("baru", "diverifikasi", "didisposisi"))
        details = _note(case, "tunda", reason, today)
        details["kiosk_answer"] = f"Ditunda: {reason}"
        return {"status": "ditunda", "details": details}

    return _step(engine, me, actor, gateway_id, number, "defer", now_ms, change)


def resume(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, now_ms: int
           ) -> dict[str, Any]:  # fmt: skip
    """Lanjutkan: take a deferred complaint up again, back to ``didisposisi`` when it has an OPD, else
    ``diverifikasi`` (a complaint deferred before verification is verified by this step: its follow-up stage of
    5 working days starts). The deadline it had is kept; one lost by an older deferral starts the stage again."""
    _need_role(me, "triage")

    def change(case: dict[str, Any], cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("complaint",), ("ditunda",))
        details = _note(case, "lanjutkan", "", today)
        details.pop("kiosk_answer", None)
        updates: dict[str, Any] = {
            "status": "didisposisi" if case["opd"] else "diverifikasi",
            "details": details,
        }
        if case["verified_ms"] is None:
            updates["verified_ms"] = now_ms
        if case["verified_ms"] is None or not case["due_date"]:
            updates["due_date"] = cal.add_working_days(today, dates.COMPLAINT_FOLLOW_UP_DAYS).isoformat()
        return updates

    return _step(engine, me, actor, gateway_id, number, "resume", now_ms, change)


def decide(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, decision: str,
           reasons: str, now_ms: int) -> dict[str, Any]:  # fmt: skip
    """The Atasan PPID's written decision on an objection, with reasons (UU 14/2008 Ps. 36)."""
    _need_role(me, "decide")
    if decision not in ("diterima", "ditolak") or not reasons.strip():
        raise BackofficeError(_("Putusan (diterima atau ditolak) dan alasannya wajib diisi."))

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        _need(case, ("objection",), ("baru", "diverifikasi"))
        details = _note(case, "putusan", reasons, today)
        verdict = "Keberatan diterima." if decision == "diterima" else "Keberatan ditolak."
        details.update(decision={"decision": decision, "reasons": reasons, "by": me.username},
                       answered_at=service.iso_utc(now_ms), kiosk_answer=f"{verdict}\n\n{reasons}")  # fmt: skip
        return {
            "status": "dijawab",
            "answered_ms": now_ms,
            "answered_date": today.isoformat(),
            "answer_due": case["due_date"],
            "due_date": None,
            "is_open": False,
            "details": details,
        }

    return _step(engine, me, actor, gateway_id, number, "decide", now_ms, change)


def close(engine: Engine, me: Officer, actor: audit.Actor, gateway_id: str, number: str, now_ms: int
          ) -> dict[str, Any]:  # fmt: skip
    """Close a case: a request or complaint by the PPID; an objection only by the atasan, and only once it is
    decided (UU 14/2008 Ps. 35-36: the Atasan PPID's written decision is what ends an objection, so nobody
    may close one that is still undecided). NotAllowed for another role, Conflict for an undecided objection.
    """

    def change(case: dict[str, Any], _cal: dates.WorkCalendar, today: date) -> dict[str, Any]:
        if not may_close(me.role, case["kind"]):
            raise NotAllowed(_("Peran Anda tidak boleh melakukan langkah ini."))
        if case["kind"] == "objection":
            _need(case, ("objection",), ("dijawab",))
        else:
            _need(
                case, ("request", "complaint"), ("baru", "diverifikasi", "didisposisi", "ditunda", "dijawab")
            )
        return {"status": "selesai", "is_open": False, "due_date": None, "closed_ms": now_ms,
                "details": _note(case, "selesai", "", today)}  # fmt: skip

    return _step(engine, me, actor, gateway_id, number, "close", now_ms, change)


def stage_deadline(case: dict[str, Any], cal: dates.WorkCalendar) -> str | None:
    """The deadline (ISO date) of the stage a case is in, counted again on ``cal`` from the day the stage began:
    a request 10 working days from receipt plus its extension; an objection 30 from receipt; a complaint 3 from
    receipt until verified, 5 from verification while followed up or deferred, 10 from the reply while waiting
    to close (module docstring). None for a case with no deadline (answered or closed)."""
    kind, status = case["kind"], case["status"]
    received = date.fromisoformat(case["received_date"])
    if kind == "complaint" and status == "dijawab" and case["answered_date"]:
        return cal.add_working_days(
            date.fromisoformat(case["answered_date"]), dates.COMPLAINT_CLOSE_DAYS
        ).isoformat()
    if status not in ACTIVE:
        return None
    if kind == "request":
        due = cal.add_working_days(received, dates.REQUEST_DAYS)
        extension = case["details"].get("extension")
        return (cal.add_working_days(due, int(extension["days"])) if extension else due).isoformat()
    if kind == "objection":
        return cal.add_working_days(received, dates.OBJECTION_ANSWER_DAYS).isoformat()
    if case["verified_ms"] is None:
        return cal.add_working_days(received, dates.COMPLAINT_VERIFY_DAYS).isoformat()
    return cal.add_working_days(office_date(case["verified_ms"]), dates.COMPLAINT_FOLLOW_UP_DAYS).isoformat()


def recompute_deadlines(engine: Engine, actor: audit.Actor, now_ms: int) -> int:
    """Count every open case's deadline again on the calendar as it is now (after local days off were added or
    removed); store, audit (``deadline-recompute``) and send down to the kiosk each one that moved. Answer how
    many moved."""
    with engine.connect() as conn:
        keys = conn.execute(sa.select(cases.c.gateway_id, cases.c.number).where(sa.or_(
            cases.c.is_open.is_(True), sa.and_(cases.c.kind == "complaint", cases.c.status == "dijawab")))).all()  # fmt: skip
    moved = 0
    for gateway_id, number in keys:
        with engine.begin() as conn:
            case = _load(conn, gateway_id, number, lock=True)
            due = stage_deadline(case, calendar.load(conn))
            if due is None or due == case["due_date"]:
                continue
            conn.execute(cases.update().where(cases.c.gateway_id == gateway_id, cases.c.number == number)
                         .values(due_date=due, updated_ms=now_ms))  # fmt: skip
            audit.record(conn, actor, "deadline-recompute", key_of(case), now_ms, {"due_date": case["due_date"]},
                         {"due_date": due})  # fmt: skip
        moved += 1
        publish_status(engine, {**case, "due_date": due})
    return moved


def may_close(role: str, kind: str) -> bool:
    """Whether ``role`` may close a case of ``kind``: objections are the atasan's alone (Ps. 36), the rest the
    PPID's (the ``triage`` capability)."""
    if kind == "objection":
        return can(role, "decide")
    return can(role, "triage")


def quiet_complaints(conn: Connection, now_ms: int) -> list[tuple[str, str]]:
    """The complaints whose reply got no answer for 10 working days (SP4N-LAPOR!): (gateway, number) pairs."""
    today = office_date(now_ms).isoformat()
    return [tuple(r) for r in conn.execute(sa.select(cases.c.gateway_id, cases.c.number).where(
        cases.c.status == "dijawab", cases.c.due_date < today, cases.c.kind == "complaint"))]  # fmt: skip


def close_quiet_complaints(engine: Engine, now_ms: int) -> int:
    """Close the complaints whose reply got no answer for 10 working days (SP4N-LAPOR!); answer how many."""
    with engine.connect() as conn:
        due = quiet_complaints(conn, now_ms)
    for gateway_id, number in due:
        with engine.begin() as conn:
            case = _load(conn, gateway_id, number, lock=True)
            if case["status"] != "dijawab":
                continue
            values = {"status": "selesai", "due_date": None, "closed_ms": now_ms}
            conn.execute(cases.update().where(cases.c.gateway_id == gateway_id, cases.c.number == number)
                         .values(**values, updated_ms=now_ms))  # fmt: skip
            audit.record(conn, audit.SYSTEM, "auto-close", key_of(case), now_ms,
                         {"status": "dijawab", "due_date": case["due_date"]}, {"status": "selesai"})  # fmt: skip
            sms_queue.enqueue(conn, {**case, **values}, "closed", "auto", now_ms)
        publish_status(engine, {**case, **values})
    return len(due)


def attach(engine: Engine, files_dir: Any, me: Officer, actor: audit.Actor, gateway_id: str, number: str,
           filename: str, data: bytes, now_ms: int) -> str:  # fmt: skip
    """Attach a PDF to a case's answer (stored by sha256 with the central's files); answer the sha256.

    BackofficeError unless it is a real PDF (:func:`uploads.check_pdf`); Conflict once the case is answered or
    closed (what the citizen was sent must not change afterwards); NotAllowed/NotFoundError as for the steps.
    The attachments go down to the kiosk with the answer (:func:`publish_status`).
    """
    with engine.connect() as conn:
        case = _load(conn, gateway_id, number)
        if not _can_view(conn, case, me):
            raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
    _need_role(me, "answer", case)
    if case["status"] in ANSWERED:
        raise Conflict(_("Berkas sudah dijawab atau ditutup: lampiran tidak dapat ditambahkan lagi."))
    uploads.check_pdf(data)
    sha256 = service.store_file(files_dir, data)
    with engine.begin() as conn:
        conn.execute(attachments.insert().values(gateway_id=gateway_id, number=number, sha256=sha256,
                                                 filename=filename[:200], size=len(data), username=me.username,
                                                 at_ms=now_ms))  # fmt: skip
        audit.record(
            conn, actor, "attach", key_of(case), now_ms, None, {"sha256": sha256, "filename": filename}
        )
    return sha256
