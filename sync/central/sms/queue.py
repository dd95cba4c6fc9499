"""What goes into the SMS queue: one message per status change of a submission whose citizen asked for it.

:func:`enqueue` runs inside the transaction of the officer's step (sync/central/backoffice/cases.py), so the
message exists exactly when the status change does: an officer's step that fails leaves none, and one that
commits cannot lose its message to a crash. Its key names the submission and the step (``<gateway>/<number>/
<event>/<step>``), and the table's unique index on it makes a repeated enqueue a no-op.

Nothing is queued for an anonymous complaint (SP4N-LAPOR!: anonim hides the reporter from everyone), for a
citizen who did not tick "Kabari saya lewat SMS", or when the submission holds no valid phone number.

The text (Bahasa Indonesia, GSM-7 only, at most 160 characters: one SMS) names the kind and registration
number, the new status, and where to read the answer: the kiosk, with the receipt. The receipt's status code is
never in it: it is the citizen's secret (docs/protocol.md, "Status codes"), and an SMS is read by whoever holds
the phone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from gateway.vocabulary import SubmissionKind
from sync.central.db import submissions
from sync.central.sms.tables import outbox

EVENTS = ("answered", "extended", "deferred", "rejected", "closed")
MAX_LENGTH = 160  # one SMS of the GSM 7-bit default alphabet (3GPP TS 23.038)
# the characters of the texts: a subset of the GSM 7-bit default alphabet that every phone shows as written
GSM7_SAFE = re.compile(r"[A-Za-z0-9 .,:;()/'\-]*")
# the kinds' names in the texts (Bahasa Indonesia, the citizens' language)
KIND_NAMES: dict[str, str] = {SubmissionKind.REQUEST: "Permohonan", SubmissionKind.COMPLAINT: "Pengaduan",
              SubmissionKind.OBJECTION: "Keberatan"}  # fmt: skip
_PHONE = re.compile(r"(?:\+?62|0)(8[0-9]{7,12})", re.ASCII)


def _ascii_digits(text: str) -> str:
    """``text`` in Unicode NFKC (fullwidth ``０８`` -> ``08``) with every other decimal digit (e.g. Arabic-Indic
    ``٠٨``) written as its ASCII digit."""
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and unicodedata.decimal(ch, None) is not None else ch
        for ch in unicodedata.normalize("NFKC", text)
    )


def normalise_phone(text: str) -> str | None:
    """An Indonesian mobile number as ``+628...`` (E.164, ASCII digits only), from ``08...``, ``628...`` or
    ``+628...`` with any spaces or dashes, written in any Unicode decimal digits (fullwidth ones included: one
    number has one form, so the daily cap counts it once); None for anything else (a landline, a foreign
    number, text)."""
    digits = re.sub(r"[\s\-.()]", "", _ascii_digits(text or ""))
    match = _PHONE.fullmatch(digits)
    return "+62" + match.group(1) if match else None


def mask(phone: str) -> str:
    """A number as the back office shows it: ``+62812*****890`` (operator prefix and the last three digits)."""
    return phone[:6] + "*" * max(0, len(phone) - 9) + phone[-3:]


def phone_hash(key: bytes, phone: str) -> str:
    """What stands for a number in the queue: hex HMAC-SHA256 of the E.164 number with ``key``."""
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


# a run of digits that could be a phone number: 7 or more, with at most two separators (spaces, dashes, dots,
# slashes, parentheses) between two of them, after an optional "+" (run on ASCII digits: see _ascii_digits)
_DIGIT_RUN = re.compile(r"\+?[0-9](?:[\s.\-/()]{0,2}[0-9]){6,}", re.ASCII)
HIDDEN = "[digits hidden]"


def scrub(text: str, phone: str | None = None) -> str:
    """``text`` without any phone number, for errors, references and logs, which never hold one: Unicode digits
    are written as ASCII ones (``_ascii_digits``), then each run of 7 or more digits (with spaces, dashes,
    dots, slashes or parentheses between them, any prefix: ``+62``, ``62``, ``0`` or none) is replaced: by
    ``phone``'s mask (``+62812*****890``) when it is a writing of ``phone`` (E.164), else by :data:`HIDDEN`.
    Scrub before cutting a text to a length, so that no part of a number survives at the edge."""

    def hide(match: re.Match[str]) -> str:
        if phone is not None and normalise_phone(match.group(0)) == phone:
            return mask(phone)
        return HIDDEN

    return _DIGIT_RUN.sub(hide, _ascii_digits(text))


def text_for(kind: str, number: str, event: str, due_date: str | None = None) -> str:
    """The SMS of ``event`` (one of :data:`EVENTS`) for submission ``number`` of ``kind``; ``due_date`` (ISO) is
    the new deadline of an extension. Raises ValueError for an unknown event or a text that is not one GSM-7 SMS.
    """
    what = KIND_NAMES.get(kind, "Berkas")
    if event == "extended":
        due = date.fromisoformat(due_date).strftime("%d-%m-%Y") if due_date else ""
        status = f"diperpanjang sampai {due}" if due else "diperpanjang"
    else:
        status = {"answered": "sudah dijawab", "deferred": "ditunda, lihat keterangan petugas",
                  "rejected": "ditolak, lihat alasannya", "closed": "sudah selesai"}[event]  # fmt: skip
    text = f"{what} {number} {status}. Baca di anjungan: bawa struk Anda."
    if len(text) > MAX_LENGTH or not GSM7_SAFE.fullmatch(text):
        raise ValueError(f"not one GSM-7 SMS: {text!r}")
    return text


OPT_INS = ("asked", "not-asked", "anonymous", "landline", "no-number")


def opt_in(conn: Connection, gateway_id: str, number: str) -> dict[str, str | None]:
    """Whether the citizen of submission ``number`` asked for SMS and can get them, as the case page shows it
    from the moment the submission arrived: ``{"state": one of OPT_INS, "masked": the number's mask or None}``.
    ``asked`` (ticked "Kabari saya lewat SMS" with a mobile number), ``not-asked``, ``anonymous`` (an anonymous
    complaint is never texted), ``landline`` (asked, but the number is no Indonesian mobile number), and
    ``no-number`` (asked, with no number, or the personal data was purged). Never the number in the clear."""
    row = conn.execute(
        sa.select(submissions.c.personal, submissions.c.notify_sms, submissions.c.public)
        .where(submissions.c.gateway_id == gateway_id, submissions.c.number == number)
        .order_by(submissions.c.seq)
        .limit(1)
    ).first()
    if row is None:
        return {"state": "no-number", "masked": None}
    if json.loads(row.public or "{}").get("anonim"):
        return {"state": "anonymous", "masked": None}
    if not row.notify_sms:
        return {"state": "not-asked", "masked": None}
    written = str(json.loads(row.personal or "{}").get("telepon") or "")
    if not written.strip():
        return {"state": "no-number", "masked": None}
    phone = normalise_phone(written)
    if phone is None:
        return {"state": "landline", "masked": None}
    return {"state": "asked", "masked": mask(phone)}


def enqueue(conn: Connection, case: dict[str, Any], event: str, step: str, now_ms: int) -> bool:
    """Queue the SMS of ``event`` for ``case`` (a back-office case: gateway_id, number, kind, anonymous,
    due_date) in the caller's transaction; ``step`` tells this status change from another of the same event
    (e.g. the step's ordinal in the case's log). Answers whether a message was queued (False: not asked for,
    anonymous, no valid number, or queued before under the same key)."""
    if case.get("anonymous"):
        return False
    row = conn.execute(
        sa.select(submissions.c.personal, submissions.c.notify_sms, submissions.c.public)
        .where(submissions.c.gateway_id == case["gateway_id"], submissions.c.number == case["number"])
        .order_by(submissions.c.seq)
        .limit(1)
    ).first()
    if row is None or not row.notify_sms or row.personal is None:
        return False
    if json.loads(row.public or "{}").get("anonim"):
        return False
    phone = normalise_phone(str(json.loads(row.personal).get("telepon") or ""))
    if phone is None:
        return False
    values = {
        "key": f"{case['gateway_id']}/{case['number']}/{event}/{step}"[:200],
        "gateway_id": case["gateway_id"],
        "number": case["number"],
        "event": event,
        "text": text_for(case["kind"], case["number"], event, case.get("due_date")),
        "phone_masked": mask(phone),
        "state": "pending",
        "attempts": 0,
        "next_ms": now_ms,
        "created_ms": now_ms,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    result = conn.execute(
        dialect.insert(outbox).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )
    return bool(result.rowcount)
