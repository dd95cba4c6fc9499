"""A case's page and the officers' steps on it; the audited "show" of personal data; answer templates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sync.central import service
from sync.central.app import central
from sync.central.backoffice import accounts, audit, cases, forms, intake
from sync.central.backoffice.errors import BackofficeError, NotFoundError
from sync.central.backoffice.intake import office_date
from sync.central.backoffice.models import templates
from sync.central.backoffice.roles import can
from sync.central.backoffice.session import actor, now_ms, officer
from sync.central.backoffice.views import MAX_ID, blueprint, requires, valid
from sync.central.errors import CentralError
from sync.central.opendata import open311

bp = blueprint("cases")
# the capability each step needs (checked before its form is read); None: decided by the case (close)
STEP_CAPABILITY = {"verifikasi": "triage", "disposisi": "triage", "tolak": "triage", "tunda": "triage",
                   "lanjutkan": "triage", "perpanjang": "answer", "jawab": "answer", "tanggapi": "answer", "putus": "decide",
                   "selesai": None}  # fmt: skip


def _opd_choices() -> list[tuple[str, str]]:
    return [(o["code"], f"{o['code']} — {o['name']}") for o in accounts.list_opds(central().engine)]


def _templates_for(kind: str, category: str | None) -> list[dict[str, Any]]:
    with central().engine.connect() as conn:
        rows = conn.execute(sa.select(templates).where(templates.c.kind == kind, templates.c.category.in_(
            ["", category or ""])).order_by(templates.c.title)).mappings().all()  # fmt: skip
    return [dict(r) for r in rows]


def _page(gateway_id: str, number: str, personal: dict[str, Any] | None = None, status: int = 200) -> Any:
    case = cases.case_for(central().engine, officer(), gateway_id, number)
    assign_form = forms.AssignForm()
    assign_form.opd.choices = forms.choices(_opd_choices())
    answer_form = forms.AnswerForm(formdata=None)
    tpl = _templates_for(case["kind"], case["category"])
    answer_form.template.choices = forms.choices([("", "—")] + [(str(t["id"]), t["title"]) for t in tpl])
    note_form = forms.NoteForm(formdata=None)
    withheld = None
    if case["kind"] == "complaint" and can(officer().role, "opendata"):
        withheld = open311.withholding(central().engine, number)
    chosen = [t for t in tpl if str(t["id"]) == request.args.get("templat")]
    if chosen:  # a template fills the answer's text, to be edited before sending
        answer_form.text.data = note_form.text.data = chosen[0]["body"]
    page = render_template(
        "backoffice/case.html", case=case, personal=personal, me=officer(), assign_form=assign_form,
        answer_form=answer_form, note_form=note_form, extend_form=forms.ExtendForm(formdata=None),
        refuse_form=forms.RefuseForm(formdata=None), decide_form=forms.DecideForm(formdata=None),
        action_form=forms.EmptyForm(), templates=tpl, sms=_sms_of(gateway_id, number),
        withhold_form=forms.WithholdForm(formdata=None), withheld=withheld,
    )  # fmt: skip
    return page, status


def _sms_of(gateway_id: str, number: str) -> dict[str, Any]:
    """The case's SMS (docs/sms.md): ``{"opt_in": {"state", "masked"}`` (:func:`sync.central.sms.queue.opt_in`,
    shown from the moment the submission arrived), ``"messages"``: those the citizen was (or is to be) sent,
    oldest first}``; never the number in the clear."""
    from sync.central.sms import queue, worker

    with central().engine.connect() as conn:
        return {"opt_in": queue.opt_in(conn, gateway_id, number),
                "messages": worker.for_case(conn, gateway_id, number)}  # fmt: skip


@bp.get("/berkas/<gateway_id>/<number>")
@requires("inbox")
def case(gateway_id: str, number: str) -> Any:
    """A case: its public text, status, deadline, history, linked request/objection and the allowed steps;
    404 when the officer may not see it (so that its existence is not disclosed either). A submission that
    arrived since the inbox was last opened gets its case first, so that a link to it works at once."""
    intake.sync_cases(central().engine)
    return _page(gateway_id, number)


@bp.post("/berkas/<gateway_id>/<number>/identitas")
@requires("personal")
def show_personal(gateway_id: str, number: str) -> Any:
    """The citizen's identity on an explicit, audited request; 403 for an anonymous complaint."""
    data = cases.personal_data(central().engine, officer(), actor(), gateway_id, number, now_ms())
    return _page(gateway_id, number, personal=data)


def _done(gateway_id: str, number: str, message: str) -> Response:
    flash(message)
    return redirect(url_for(".case", gateway_id=gateway_id, number=number))


@bp.post("/berkas/<gateway_id>/<number>/data-terbuka")
@requires("opendata")
def open_data(gateway_id: str, number: str) -> Any:
    """Withhold a complaint from open data (Open311) with a reason, or publish it again (form ``tindakan``:
    ``tahan`` or ``tampilkan``), as the command line's open311-hide and open311-show do; audited in the open
    data's trail (shown on the audit page). 404 for a case the officer may not see or that is no complaint."""
    case = cases.case_for(central().engine, officer(), gateway_id, number)
    if case["kind"] != "complaint":
        raise NotFoundError(_("Tidak ada berkas %(number)s.", number=number))
    form = valid(forms.WithholdForm())
    action = request.form.get("tindakan", "")
    if action not in ("tahan", "tampilkan"):
        raise BackofficeError(_("Pilihan tidak dikenal."))
    try:
        if action == "tahan":
            open311.hide(central().engine, number, form.reason.data or "", actor().username)
        else:
            open311.unhide(central().engine, number, form.reason.data or "", actor().username)
    except CentralError as err:
        raise BackofficeError(_("Pengaduan ini tidak sedang ditahan.")) from err
    if action == "tahan":
        return _done(gateway_id, number, _("Pengaduan ditahan dari data terbuka."))
    return _done(gateway_id, number, _("Pengaduan dipublikasikan lagi di data terbuka."))


@bp.post("/berkas/<gateway_id>/<number>/<step>")
@requires("inbox")
def act(gateway_id: str, number: str, step: str) -> Response:
    """One step on a case (verifikasi, disposisi, perpanjang, jawab, tanggapi, tolak, tunda, lanjutkan, putus,
    selesai);
    400 bad input, 403 not this role or OPD, 404 unknown case, 409 not allowed in the case's status."""
    engine, me, who, at = central().engine, officer(), actor(), now_ms()
    if step not in STEP_CAPABILITY:
        raise NotFoundError(_("Langkah tidak dikenal."))
    cases.check_step(engine, me, gateway_id, number, STEP_CAPABILITY[step])
    key = (engine, me, who, gateway_id, number)
    if step == "verifikasi":
        valid(forms.EmptyForm())
        cases.verify(*key, at)
    elif step == "disposisi":
        form = forms.AssignForm()
        form.opd.choices = forms.choices(_opd_choices())
        valid(form)
        cases.assign(*key, form.opd.data or "", form.text.data or "", at)
    elif step == "perpanjang":
        form = valid(forms.ExtendForm())
        cases.extend(*key, int(form.days.data), form.text.data or "", at)
    elif step == "jawab":
        return _answer(gateway_id, number)
    elif step == "tanggapi":
        form = valid(forms.NoteForm())
        cases.respond(*key, form.text.data or "", at)
    elif step == "tolak":
        form = valid(forms.RefuseForm())
        cases.refuse(*key, form.reason.data or "", form.duplicate_of.data or None, form.text.data or "", at)
    elif step == "tunda":
        form = valid(forms.NoteForm())
        cases.defer(*key, form.text.data or "", at)
    elif step == "lanjutkan":
        valid(forms.EmptyForm())
        cases.resume(*key, at)
    elif step == "putus":
        form = valid(forms.DecideForm())
        cases.decide(*key, form.decision.data or "", form.text.data or "", at)
    elif step == "selesai":
        valid(forms.EmptyForm())
        cases.close(*key, at)
    else:
        raise NotFoundError(_("Langkah tidak dikenal."))
    return _done(gateway_id, number, _("Tersimpan dan dikirim ke anjungan."))


def _answer(gateway_id: str, number: str) -> Response:
    form = forms.AnswerForm()
    tpl = _templates_for("request", None)
    form.template.choices = forms.choices([("", "—")] + [(str(t["id"]), t["title"]) for t in tpl])
    form.template.validate_choice = False
    valid(form)
    engine, me, who, at = central().engine, officer(), actor(), now_ms()
    upload = form.attachment.data
    if upload and getattr(upload, "filename", ""):
        cases.attach(engine, current_app.extensions["anjungan.central"].files_dir, me, who, gateway_id, number,
                     upload.filename, upload.read(), at)  # fmt: skip
    notice = {"held": form.held.data, "decision": form.decision.data, "exemption": form.exemption.data or None,
              "consequence": form.consequence.data or None, "form_of": form.form_of.data,
              "medium": form.medium.data, "cost": int(form.cost.data or 0), "text": form.text.data or ""}  # fmt: skip
    cases.answer_request(engine, me, who, gateway_id, number, notice, at)
    return _done(gateway_id, number, _("Pemberitahuan tertulis tersimpan dan dikirim ke anjungan."))


@bp.post("/berkas/<gateway_id>/<number>/lampiran")
@requires("answer")
def attach(gateway_id: str, number: str) -> Response:
    """Attach a PDF to the case (before or after answering); 400 when it is not a PDF."""
    form = forms.AnswerForm()
    upload = form.attachment.data
    if not upload or not getattr(upload, "filename", ""):
        raise BackofficeError(_("Pilih berkas PDF."))
    cases.attach(central().engine, central().files_dir, officer(), actor(), gateway_id, number, upload.filename,
                 upload.read(), now_ms())  # fmt: skip
    return _done(gateway_id, number, _("Lampiran tersimpan."))


@bp.get("/berkas/<gateway_id>/<number>/lampiran/<int:attachment_id>")
@requires("inbox")
def attachment(gateway_id: str, number: str, attachment_id: int) -> Response:
    """An attachment's bytes (a PDF), for the officers who may open the case; audited. 404 when the officer
    may not see the case, or it has no such attachment, or its file is gone."""
    if attachment_id > MAX_ID:
        raise NotFoundError(_("Lampiran tidak ada."))
    row = cases.attachment_for(
        central().engine, officer(), actor(), gateway_id, number, attachment_id, now_ms()
    )
    path = service.file_path(central().files(), row["sha256"])
    if path is None:
        raise NotFoundError(_("Lampiran tidak ada."))
    response = send_file(path, mimetype="application/pdf", as_attachment=True, download_name=row["filename"])
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/templat")
@requires("templates")
def template_list() -> str:
    """Reusable answer templates per kind and category."""
    with central().engine.connect() as conn:
        rows = conn.execute(sa.select(templates).order_by(templates.c.kind, templates.c.category,
                                                          templates.c.title)).mappings().all()  # fmt: skip
    return render_template("backoffice/templates.html", rows=rows, form=forms.TemplateForm(),
                           action_form=forms.EmptyForm())  # fmt: skip


@bp.post("/templat")
@requires("templates")
def template_add() -> Response:
    form = valid(forms.TemplateForm())
    values = {"kind": form.kind.data, "category": (form.category.data or "").strip(), "title": form.title.data,
              "body": form.body.data}  # fmt: skip
    with central().engine.begin() as conn:
        conn.execute(templates.insert().values(**values))
        audit.record(
            conn, actor(), "template-add", "template:" + str(form.title.data), now_ms(), None, values
        )
    return redirect(url_for(".template_list"))


@bp.post("/templat/<int:template_id>/hapus")
@requires("templates")
def template_remove(template_id: int) -> Response:
    """Remove an answer template; 404 when there is none with that id."""
    if template_id > MAX_ID:
        raise NotFoundError(_("Templat tidak ada."))
    with central().engine.begin() as conn:
        row = conn.execute(sa.select(templates).where(templates.c.id == template_id)).mappings().first()
        if row is None:
            raise NotFoundError(_("Templat tidak ada."))
        conn.execute(templates.delete().where(templates.c.id == template_id))
        audit.record(conn, actor(), "template-remove", f"template:{template_id}", now_ms(), dict(row), None)
    return redirect(url_for(".template_list"))


def can_step(case: dict[str, Any], step: str) -> bool:
    """Whether the page offers a step (the service checks again when it is taken)."""
    me = officer()
    own = me.role == "ppid" or (me.role == "pelaksana" and case["opd"] == me.opd)
    kind, status = case["kind"], case["status"]
    table = {
        "verifikasi": can(me.role, "triage") and kind != "objection" and status == "baru",
        "disposisi": can(me.role, "triage") and kind != "objection" and status in ("diverifikasi", "didisposisi",
                                                                                    "ditunda"),
        "perpanjang": own and kind == "request" and not case["extended"] and status in ("baru", "diverifikasi",
                                                                                         "didisposisi")
        and bool(case["due_date"]) and case["due_date"] >= office_date(now_ms()).isoformat(),
        "jawab": own and kind == "request" and status in ("diverifikasi", "didisposisi"),
        "tanggapi": own and kind == "complaint" and status in ("diverifikasi", "didisposisi"),
        "tolak": can(me.role, "triage") and kind == "complaint" and status in ("baru", "diverifikasi"),
        "tunda": can(me.role, "triage") and kind == "complaint" and status in ("baru", "diverifikasi",
                                                                               "didisposisi"),
        "lanjutkan": can(me.role, "triage") and kind == "complaint" and status == "ditunda",
        "putus": me.role == "atasan" and kind == "objection" and status in ("baru", "diverifikasi"),
        "selesai": cases.may_close(me.role, kind)
        and (status == "dijawab" if kind == "objection" else status not in ("selesai", "ditolak")),
        "identitas": cases.may_see_identity(me.role, kind) and not case["anonymous"],
    }  # fmt: skip
    return bool(table.get(step))


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"can_step": can_step}
