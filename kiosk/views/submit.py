"""Citizens' submissions (permohonan, pengaduan, keberatan), their receipts, and the status check.

A submission is saved durably through ``Store.add_submission`` (synchronous=FULL) before its number is shown;
the receipt shows only the number, dates and the status URL. Personal data is never logged or shown again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l

from gateway import dates, regno, statuscode
from gateway.errors import StoreError
from gateway.store import files
from gateway.vocabulary import DueKind, LaporStage, SkmService, SubmissionKind, SubmissionStatus
from kiosk import forms
from kiosk import status as status_mod
from kiosk.printing import PrinterError, Slip, print_slip
from kiosk.views import kiosk_today, kiosk_tz, store, survey

log = logging.getLogger(__name__)
bp = Blueprint("submit", __name__)

# The submission kinds -> (label, receipt heading); the pages keep Indonesian names.
KINDS: dict[str, tuple[Any, str]] = {
    SubmissionKind.REQUEST: (_l("Permohonan informasi"), "TANDA TERIMA PERMOHONAN INFORMASI"),
    SubmissionKind.COMPLAINT: (_l("Pengaduan"), "TANDA TERIMA PENGADUAN"),
    SubmissionKind.OBJECTION: (_l("Keberatan"), "TANDA TERIMA KEBERATAN"),
}
PAGE_KINDS: dict[str, str] = {
    "permohonan": SubmissionKind.REQUEST,
    "pengaduan": SubmissionKind.COMPLAINT,
    "keberatan": SubmissionKind.OBJECTION,
}
# Statuses as the central sends them (SubmissionStatus) and the SP4N-LAPOR! stages an office may use
# (LaporStage); unknown ones are shown as they are.
STATUSES: dict[str, Any] = {
    SubmissionStatus.RECEIVED: _l("Diterima, menunggu diproses"),
    SubmissionStatus.IN_PROGRESS: _l("Sedang diproses"),
    SubmissionStatus.ANSWERED: _l("Sudah dijawab"),
    SubmissionStatus.REJECTED: _l("Ditolak"),
    SubmissionStatus.EXTENDED: _l("Waktu diperpanjang (paling lama 7 hari kerja)"),
    SubmissionStatus.CLOSED: _l("Selesai"),
    LaporStage.DITERIMA: _l("Diterima, menunggu diproses"),
    LaporStage.VERIFIKASI: _l("Sedang diverifikasi"),
    LaporStage.DIPROSES: _l("Sedang diproses"),
    LaporStage.TINDAK_LANJUT: _l("Sedang ditindaklanjuti"),
    LaporStage.DIPERPANJANG: _l("Waktu diperpanjang (paling lama 7 hari kerja)"),
    LaporStage.DIJAWAB: _l("Sudah dijawab"),
    LaporStage.DITOLAK: _l("Ditolak"),
    LaporStage.SELESAI: _l("Selesai"),
    LaporStage.BUKAN_WEWENANG: _l("Bukan wewenang kantor ini (diteruskan)"),
    LaporStage.TUNDA: _l("Ditunda"),
    LaporStage.ARSIP: _l("Diarsipkan"),
}
MAX_RECEIPTS = 5
# what the due date on the status page is the deadline of (the central's status change says: DueKind);
# DueKind.NONE: no deadline runs now, none is shown
DUE_LABELS: dict[str, Any] = {
    DueKind.ANSWER: _l("Batas waktu jawaban"),
    DueKind.VERIFICATION: _l("Batas waktu verifikasi"),
    DueKind.FOLLOW_UP: _l("Batas waktu tindak lanjut"),
    DueKind.AUTO_CLOSE: _l("Ditutup otomatis bila tidak ada tanggapan pada"),
}


def status_url(number: str, code: str | None = None) -> str:
    """What the QR code encodes: the public status URL with the number and its status code (``?kode=``), or,
    with no public URL, the number and the grouped code as text. Never personal data."""
    base = current_app.config["KIOSK_PUBLIC_URL"]
    if base:
        return f"{base}/status/{number}" + (f"?kode={code}" if code else "")
    return f"{number} {statuscode.grouped(code)}" if code else number


def _code_for(key: str | None) -> str | None:
    """The status code of the submission filed under form key ``key``, derived with the kiosk's secret key so
    that a repeat of the form shows the same code although only its hash is stored (None: no key, a fresh
    random code)."""
    if not key:
        return None
    secret = current_app.config["SECRET_KEY"]
    return statuscode.derived_code(secret if isinstance(secret, bytes) else str(secret).encode(), key)


def _save(kind: str, form: Any) -> Any:
    """Save the form's submission (once per idempotency key) and show its receipt; 503 when the store fails.

    A repeat of a key (a double tap, a resend after a slow answer) stores nothing, prints no second slip and
    shows the first submission's receipt.
    """
    today = kiosk_today()
    try:
        key = form.idempotency_key.data
        record = store().add_submission(kind, form.public(), form.personal(),
                                        gateway_id=current_app.config["KIOSK_GATEWAY_ID"],
                                        due_date=dates.due_for(kind, today), day=today,
                                        idempotency_key=key, code=_code_for(key),
                                        notify_sms=bool(getattr(form, "kabari_sms", None) and form.kabari_sms.data))  # fmt: skip
    except StoreError as err:
        log.error("a %s could not be saved: %s", kind, err)  # the error never holds the form's data
        return Response(render_template("error.html", code=503), status=503)
    number = record["number"]
    known = number in session.get("receipts", [])
    receipts = [n for n in session.get("receipts", []) if n != number][-(MAX_RECEIPTS - 1) :]
    session["receipts"] = [*receipts, number]
    # the status code, in the clear only in this citizen's session until the receipt is done with
    codes = {n: c for n, c in session.get("codes", {}).items() if n in receipts}
    session["codes"] = codes | ({number: record["code"]} if record["code"] else {})
    # what the receipt says of SMS: the masked mobile number only (docs/sms.md), for this session's receipts
    sms = {n: o for n, o in session.get("sms", {}).items() if n in receipts}
    session["sms"] = sms | {number: forms.sms_outcome(form)}
    if record["repeat"]:
        session["printed"] = session.get("printed", "none") if known else "none"
        log.info("repeat of %s %s: its receipt again", kind, number)
    else:
        session["printed"] = _print(kind, record, session["sms"][number])
        log.info("saved %s %s", kind, number)
    return redirect(url_for("submit.receipt", number=number))


SMS_SLIP_LINES: dict[str, str] = {  # the slip's line on SMS (the slip is printed in Indonesian only)
    "yes": "SMS ke {to} bila status berubah.",
    "anonymous": "Pengaduan anonim tidak mendapat SMS.",
    "landline": "Tidak ada SMS: nomor telepon bukan nomor HP.",
}


def _print(kind: str, record: Mapping[str, Any], sms: Mapping[str, str] | None = None) -> str:
    """Print the slip when a printer is configured: "printed", "none" or "failed". ``sms``: what
    :func:`kiosk.forms.sms_outcome` said of SMS (its line is printed, the number masked)."""
    printer = current_app.config["KIOSK_PRINTER"]
    if not printer:
        return "none"
    due = date.fromisoformat(record["due_date"]) if record.get("due_date") else None
    slip = Slip(current_app.config["KIOSK_OFFICE"], KINDS[kind][1], record["number"],
                datetime.fromtimestamp(record["at"] / 1000, kiosk_tz()), due, status_url(record["number"], record["code"]),
                (f"Kode status: {statuscode.grouped(record['code'])}",
                 "Simpan tanda terima ini. Nomor dan kode status diperlukan untuk melihat jawaban.",
                 *_sms_line(sms)))  # fmt: skip
    try:
        print_slip(printer, slip)
    except PrinterError as err:
        log.warning("receipt printer: %s", err)
        return "failed"
    return "printed"


def _sms_line(sms: Mapping[str, str] | None) -> tuple[str, ...]:
    line = SMS_SLIP_LINES.get((sms or {}).get("state", ""))
    return (line.format(to=(sms or {}).get("to", "")),) if line else ()


def _form_page(kind: str, form: Any, template: str, **extra: Any) -> tuple[str, int] | str:
    status = 400 if form.is_submitted() else 200
    return render_template(template, form=form, kind=kind, title=KINDS[PAGE_KINDS[kind]][0], **extra), status


@bp.route("/permohonan", methods=["GET", "POST"])
def permohonan() -> Any:
    """The information-request form; 400 with messages when invalid, 400 when the CSRF token is missing."""
    form = forms.PermohonanForm()
    if form.validate_on_submit():
        return _save(SubmissionKind.REQUEST, form)
    if request.method == "GET":
        _name_dip_entry(form, request.args.get("informasi", ""))
    return _form_page("permohonan", form, "form_permohonan.html")


def _name_dip_entry(form: Any, entry_id: str) -> None:
    """Pre-fill "Rincian informasi" with the DIP entry the citizen asked for ("Minta informasi ini")."""
    entry = store().content_item("dip", entry_id[:64]) if entry_id else None
    if entry and entry.get("category") != "dikecualikan" and entry.get("title"):
        form.rincian.data = str(_l("Saya meminta informasi: %(title)s", title=entry["title"]))


@bp.route("/pengaduan", methods=["GET", "POST"])
def pengaduan() -> Any:
    """The complaint form (anonim: no identity kept; rahasia: not published)."""
    form = forms.PengaduanForm()
    if form.validate_on_submit():
        return _save(SubmissionKind.COMPLAINT, form)
    return _form_page("pengaduan", form, "form_pengaduan.html")


@bp.route("/keberatan", methods=["GET", "POST"])
def keberatan() -> Any:
    """An objection against an earlier request (well-formed number; if known here, it must be a request)."""
    form = forms.KeberatanForm()
    earlier = None
    if form.validate_on_submit():
        earlier = store().submission(form.nomor_permohonan.data)
        if earlier is not None and earlier["kind"] != SubmissionKind.REQUEST:
            form.nomor_permohonan.errors = [_l("Nomor ini bukan nomor permohonan informasi.")]
        else:
            return _save(SubmissionKind.OBJECTION, form)
    return _form_page("keberatan", form, "form_keberatan.html", grounds=forms.GROUNDS)


@bp.get("/tanda-terima/<number>")
def receipt(number: str) -> Any:
    """The receipt of a submission made in this session; elsewhere the status page (never a receipt)."""
    if number not in session.get("receipts", []):
        return redirect(url_for("submit.status_show", number=number))
    record = store().submission(number)
    if record is None:
        abort(404)
    import segno

    code = session.get("codes", {}).get(number)
    qr = segno.make(status_url(number, code), error="m").svg_inline(
        scale=5, dark="#000000", light="#ffffff", omitsize=True
    )
    survey.allow(record["kind"])  # a service given: the session may rate it (once per session)
    sms = session.get("sms", {}).get(number) or {"state": "yes" if record.get("notify_sms") else "none"}
    return render_template("receipt.html", record=record, kind=KINDS[record["kind"]][0], qr=qr,
                           code=statuscode.grouped(code) if code else None, sms=sms,
                           printed=session.get("printed", "none"), status_url=status_url(number, code))  # fmt: skip


@bp.route("/status", methods=["GET", "POST"])
def status_lookup() -> Any:
    """Type a registration number and, to see the answer, its status code; a mistyped number (check digit) or
    code gets a clear message (400). With a code the status page is answered here, so the code never
    appears in an address."""
    form = forms.StatusForm()
    if form.validate_on_submit():
        if not form.kode.data:
            return redirect(url_for("submit.status_show", number=form.nomor.data))
        return _status_page(form.nomor.data, form.kode.data)
    return render_template("status_form.html", form=form, example_number=forms.example_number()), (
        400 if form.is_submitted() else 200
    )


@bp.get("/status/<number>")
def status_show(number: str) -> Any:
    """The status of a submission: that it exists and its status; with its code (``?kode=``, as the receipt's
    QR code carries it) or in the session that made it, also its due date and answer. Never personal data;
    404 when not known here (nor at the central, or the central cannot be asked); 503 "a check is in progress"
    while another request thread is already waiting for the central (kiosk/status.py, ``Relay``)."""
    try:
        canonical = str(regno.parse(number[:64]))
    except regno.InvalidNumber:
        form = forms.StatusForm(data={"nomor": number[:64]})
        form.validate()
        return render_template("status_form.html", form=form, example_number=forms.example_number()), 400
    code = request.args.get("kode")
    if canonical != number:
        extra: dict[str, Any] = {"kode": code} if code else {}
        return redirect(url_for("submit.status_show", number=canonical, **extra))
    return _status_page(canonical, code or shown().code_for(session.get(SHOWN), canonical))


SHOWN = "shown"  # session: the token under which the server keeps the status result opened (kiosk/status.py)


def shown() -> status_mod.ShownStatus:
    """The app's memory of the status results opened with a code (kiosk/status.py, ``ShownStatus``)."""
    return current_app.extensions["anjungan_shown_status"]  # type: ignore[no-any-return]


def _status_page(number: str, code: str | None) -> Any:
    """The status page of a well-formed ``number`` for someone holding ``code`` (as typed, or None)."""
    _spend_number(number)
    cfg = current_app.config
    relay = current_app.extensions["anjungan_lookup_relay"] if cfg["KIOSK_RELAY_LOOKUPS"] else None
    view = status_mod.look_up(store(), number, code, own=number in session.get("receipts", []), relay=relay)
    if view.busy:  # another lookup is waiting for the central: try again in a moment, never wait here
        retry = int(cfg["KIOSK_LOOKUP_RETRY_SECONDS"])
        form = forms.StatusForm(data={"nomor": number, "kode": code or ""})
        page = render_template("status_busy.html", number=number, retry=retry, form=form,
                               refresh=request.method == "GET")  # fmt: skip
        return page, 503
    if not view.found:
        return render_template("status_unknown.html", number=number, offline=view.offline), 404
    survey.allow(SkmService.STATUS_CHECK)  # a status checked: the session may rate checks once
    kind = KINDS.get(view.kind or "", (view.kind, ""))[0] if view.kind else None
    label = STATUSES.get(view.status or "", view.status)
    form = forms.StatusForm(data={"nomor": number})
    if view.full and code:  # shown again by /status/<number> (the language switch) without the code in it
        shown().remember(session.setdefault(SHOWN, secrets.token_urlsafe(16)), number, code)
    if view.full:  # this session may open the answer's documents (until the session is cleared)
        session["opened"] = [
            *[n for n in session.get("opened", []) if n != number][-(MAX_RECEIPTS - 1) :],
            number,
        ]
    here = {a["sha256"] for a in view.attachments if store().file_fetched(a["sha256"])}
    return render_template("status.html", view=view, kind=kind, status_label=label, form=form,
                           due_label=DUE_LABELS.get(view.due_kind or _first_due_kind(view.kind)), here=here,
                           return_path=url_for("submit.status_show", number=number),
                           sms_to=session.get("sms", {}).get(number, {}).get("to"))  # fmt: skip


def _first_due_kind(kind: str | None) -> str:
    """What the kiosk's own due date is for, before the central says (gateway.dates.due_for): a complaint's
    verification plus follow-up (SP4N-LAPOR!), else the answer."""
    return DueKind.FOLLOW_UP if kind == SubmissionKind.COMPLAINT else DueKind.ANSWER


@bp.get("/status/<number>/lampiran/<sha256>")
def status_attachment(number: str, sha256: str) -> Response:
    """The bytes of a document attached to the answer of ``number`` (a PDF), only in the session that made the
    submission or opened its status page with the status code; 404 otherwise, or while the file is still
    being fetched from the central."""
    if number not in session.get("receipts", []) and number not in session.get("opened", []):
        abort(404)
    record = store().submission(number)
    chosen = [a for a in (record["attachments"] if record else []) if a["sha256"] == sha256]
    if not chosen or not store().file_fetched(sha256):
        abort(404)
    path = files.file_path(Path(current_app.config["KIOSK_DATA_DIR"]), sha256)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="application/pdf", download_name=chosen[0]["name"], conditional=True)
    response.headers["Cache-Control"] = "private, no-store"  # a citizen's answer: never kept by the browser
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _spend_number(number: str) -> None:
    """Count one lookup of ``number`` (per number, whichever device asks); 429 when its budget is spent."""
    limiter = current_app.extensions["anjungan_limiter"]
    if not limiter.hit(str(current_app.config["KIOSK_LIMIT_STATUS_NUMBER"]), "status-number", number):
        abort(429)
