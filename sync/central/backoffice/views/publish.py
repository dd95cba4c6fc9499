"""Publishing pages: DIP entries, documents and announcements for every kiosk or chosen ones; previews."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from sync.central import service
from sync.central.app import central
from sync.central.backoffice import forms, publishing
from sync.central.backoffice.errors import BackofficeError, NotFoundError
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import blueprint, requires, valid

bp = blueprint("publish")


def _forms(current: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The publishing forms; the kiosks they offer as targets are the active ones (a removed gateway receives
    nothing any more: its requests are refused)."""
    kiosks = [(g["gateway_id"], f"{g['gateway_id']} — {g['name']}") for g in service.overview(central().engine)
              if g["removed"] is None]  # fmt: skip
    documents = [("", "—")] + [(d["item_id"], d["data"]["title"]) for d in current["document"]]
    made: dict[str, Any] = {
        "dip": forms.DipForm(),
        "document": forms.DocumentForm(),
        "announcement": forms.AnnouncementForm(),
    }
    for form in made.values():
        form.gateways.choices = forms.choices(kiosks)
    made["dip"].document.choices = forms.choices(documents)
    return made


def _prefill(made: dict[str, Any]) -> None:
    """?ubah=kind/item_id/scope fills the form of that kind with the item as published (an edit)."""
    kind, _sep, rest = request.args.get("ubah", "").partition("/")
    item_id, _sep, scope = rest.partition("/")
    if kind not in ("dip", "announcement") or not item_id:
        return
    data = publishing.item(central().engine, kind, item_id, scope)
    form = made[kind]
    form.item_id.data, form.gateways.data = item_id, [scope] if scope else []
    for name, value in data.items():
        if name in form and name not in ("starts", "ends"):
            form[name].data = value
    if kind == "announcement":
        from datetime import date

        form.starts.data = date.fromisoformat(data["starts"][:10]) if data.get("starts") else None
        form.ends.data = date.fromisoformat(data["ends"][:10]) if data.get("ends") else None


@bp.get("/publikasi")
@requires("publish")
def index() -> str:
    """What is published now, and the forms to publish more (or edit with ?ubah=kind/id/scope)."""
    current = publishing.published(central().engine)
    made = _forms(current)
    _prefill(made)
    return render_template("backoffice/publish.html", current=current, forms=made)


@bp.post("/publikasi/dip")
@requires("publish")
def dip() -> Response:
    """Publish or edit a DIP entry; 400 on missing columns (a dikecualikan entry needs its reason)."""
    form = valid(_forms(publishing.published(central().engine))["dip"])
    if form.category.data == "dikecualikan" and not (form.reason.data or "").strip():
        raise BackofficeError(_("Informasi yang dikecualikan wajib menyebut alasannya (uji konsekuensi)."))
    data = {"category": form.category.data, "title": form.title.data, "summary": form.summary.data,
            "unit": form.unit.data, "responsible": form.responsible.data, "made": form.made.data,
            "formats": list(form.formats.data or []), "retention": form.retention.data,
            "document": form.document.data or None, "reason": form.reason.data or None}  # fmt: skip
    publishing.publish(central().engine, actor(), "dip", form.item_id.data or "", data, form.gateways.data or [],
                       now_ms())  # fmt: skip
    flash(_("Entri DIP diterbitkan ke anjungan."))
    return redirect(url_for(".index"))


@bp.post("/publikasi/dokumen")
@requires("publish")
def document() -> Response:
    """Upload a PDF and publish it; 400 when it is not a PDF."""
    form = valid(_forms(publishing.published(central().engine))["document"])
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        raise BackofficeError(_("Pilih berkas PDF."))
    publishing.publish_pdf(central().engine, central().files(), actor(), form.title.data or "", upload.filename,
                           upload.read(), form.gateways.data or [], now_ms())  # fmt: skip
    flash(_("Dokumen diterbitkan ke anjungan."))
    return redirect(url_for(".index"))


@bp.post("/publikasi/pengumuman")
@requires("publish")
def announcement() -> Response:
    """Publish or edit an announcement (serta-merta: shown as an urgent alert); 400 when it ends before it starts."""
    form = valid(_forms(publishing.published(central().engine))["announcement"])
    starts, ends = form.starts.data, form.ends.data
    if starts and ends and ends < starts:
        raise BackofficeError(_("Tanggal berakhir sebelum tanggal mulai."))
    data = {"title": form.title.data, "body": form.body.data, "starts": starts.isoformat() if starts else None,
            "ends": ends.isoformat() if ends else None, "urgent": bool(form.urgent.data)}  # fmt: skip
    publishing.publish(central().engine, actor(), "announcement", form.item_id.data or "", data,
                       form.gateways.data or [], now_ms())  # fmt: skip
    flash(_("Pengumuman diterbitkan ke anjungan."))
    return redirect(url_for(".index"))


def _kind(kind: str) -> str:
    if kind not in publishing.KINDS:
        raise NotFoundError(_("Jenis terbitan tidak dikenal."))
    return kind


KIND_NAMES = {"dip": _l("entri DIP"), "document": _l("dokumen"), "announcement": _l("pengumuman")}


def _confirm_withdrawal(kind: str, item_id: str, scope: str) -> str:
    """The page that asks before an item is withdrawn from the kiosks; NotFoundError when it is not published."""
    data = publishing.item(central().engine, _kind(kind), item_id, scope)
    where = scope or _("semua anjungan")
    return render_template(
        "backoffice/confirm.html", title=_("Tarik %(what)s ini dari anjungan?", what=KIND_NAMES[kind]),
        explanation=_("Anjungan menghapusnya pada sinkronisasi berikutnya; warga tidak melihatnya lagi. Jejak "
                      "audit menyimpan isinya."),
        facts=[(_("Judul"), data.get("title", item_id)), (_("Kode"), item_id), (_("Tujuan"), where)],
        action=url_for(".withdraw", kind=kind, item_id=item_id), hidden={"scope": scope},
        confirm=_("Ya, tarik"), back=url_for(".index"), action_form=forms.EmptyForm(),
    )  # fmt: skip


@bp.get("/publikasi/<kind>/<item_id>/tarik")
@requires("publish")
def confirm_withdraw(kind: str, item_id: str) -> str:
    """The confirmation page of a withdrawal (query ``scope``: a kiosk, or "" for every kiosk); 404 when the
    item is not published there."""
    return _confirm_withdrawal(kind, item_id, request.args.get("scope", ""))


@bp.post("/publikasi/<kind>/<item_id>/tarik")
@requires("publish")
def withdraw(kind: str, item_id: str) -> Response | str:
    """Withdraw an item from every kiosk (scope "") or one (form field ``scope``); 404 when not published.
    It needs ``konfirmasi=ya`` (from its confirmation page): without it the confirmation page is answered and
    nothing changes."""
    valid(forms.EmptyForm())
    scope = request.form.get("scope", "")
    if request.form.get("konfirmasi") != "ya":
        return _confirm_withdrawal(kind, item_id, scope)
    publishing.withdraw(central().engine, actor(), _kind(kind), item_id, scope, now_ms())
    flash(_("Terbitan ditarik dari anjungan."))
    return redirect(url_for(".index"))


@bp.get("/publikasi/<kind>/<item_id>/pratinjau")
@requires("publish")
def preview(kind: str, item_id: str) -> str:
    """The item as the kiosk will show it (large type, the kiosk's layout of a DIP row or an announcement)."""
    data = publishing.item(central().engine, _kind(kind), item_id, request.args.get("scope", ""))
    return render_template("backoffice/preview.html", kind=kind, item_id=item_id, data=data)
