"""Admin pages: the fleet, officers' accounts, the audit trail, OPDs and local days off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from sync.central import service
from sync.central.app import central
from sync.central.backoffice import accounts, audit, calendar, cases, forms
from sync.central.backoffice.errors import BackofficeError
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import blueprint, page_arg, requires

bp = blueprint("admin")


@bp.get("/armada")
@requires("fleet")
def fleet() -> str:
    """The fleet at a glance: each kiosk's contact, backlog and health, its nodes, the map (views/fleet.py)."""
    from sync.central.backoffice.views.fleet import fleet_page

    return fleet_page()


@bp.get("/pengguna")
@requires("users")
def users() -> str:
    """Officers' accounts (never their password hashes)."""
    form = forms.UserForm()
    form.opd.choices = forms.choices(
        [("", "—")] + [(o["code"], o["name"]) for o in accounts.list_opds(central().engine)]
    )
    return render_template("backoffice/users.html", users=accounts.list_users(central().engine), form=form,
                           action_form=forms.EmptyForm(), password=None)  # fmt: skip


@bp.post("/pengguna")
@requires("users")
def add_user() -> Any:
    """Create an account; the generated password is shown once. 400 on a bad name/role/OPD."""
    form = forms.UserForm()
    form.opd.choices = forms.choices(
        [("", "—")] + [(o["code"], o["name"]) for o in accounts.list_opds(central().engine)]
    )
    if not form.validate_on_submit():
        raise BackofficeError(_("Data pengguna tidak lengkap."))
    engine, at = central().engine, now_ms()
    password = accounts.add_user(engine, form.username.data or "", form.role.data or "", opd=form.opd.data or None,
                                 password=None, now_ms=at)  # fmt: skip
    with engine.begin() as conn:
        after = {"role": form.role.data, "opd": form.opd.data or None}
        audit.record(conn, actor(), "user-add", "user:" + (form.username.data or "").lower(), at, None, after)
    return render_template("backoffice/users.html", users=accounts.list_users(engine), form=forms.UserForm(
        formdata=None), action_form=forms.EmptyForm(), password=password,
        new_user=(form.username.data or "").lower())  # fmt: skip


@bp.post("/pengguna/<username>/<action>")
@requires("users")
def user_action(username: str, action: str) -> Any:
    """Disable, enable or reset the password of an account (``action``: nonaktif, aktif, reset); 404 unknown."""
    engine, at = central().engine, now_ms()
    if action == "reset":
        password = accounts.reset_password(engine, username)
        with engine.begin() as conn:
            audit.record(conn, actor(), "user-reset-password", "user:" + username, at)
        return render_template("backoffice/users.html", users=accounts.list_users(engine),
                               form=forms.UserForm(formdata=None), action_form=forms.EmptyForm(),
                               password=password, new_user=username)  # fmt: skip
    if action not in ("aktif", "nonaktif"):
        raise BackofficeError("unknown action")
    accounts.set_active(engine, username, action == "aktif", at)
    with engine.begin() as conn:
        audit.record(
            conn, actor(), "user-" + action, "user:" + username, at, None, {"active": action == "aktif"}
        )
    flash(_("Akun %(name)s diperbarui.", name=username))
    return redirect(url_for(".users"))


def _audit_filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip()[:200] for k in ("username", "action", "target")}


@bp.get("/audit")
@requires("audit")
def audit_trail() -> str:
    """The audit trail, newest first, 100 per page, with filters by user, action and target."""
    page = page_arg()
    rows, total = audit.entries(central().engine, page, **_audit_filters())
    return render_template("backoffice/audit.html", rows=rows, total=total, page=page, page_size=audit.PAGE,
                           filters=_audit_filters())  # fmt: skip


@bp.get("/audit.csv")
@requires("audit")
def audit_csv() -> Response:
    """The audit trail (with the same filters) as CSV, oldest first; the export itself is audited."""
    engine = central().engine
    with engine.begin() as conn:
        audit.record(conn, actor(), "audit-export", "audit", now_ms(), None, _audit_filters())
    body = audit.export_csv(engine, service.iso_utc, **_audit_filters())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(body), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=audit-{stamp}.csv"})  # fmt: skip


@bp.get("/pengaturan")
@requires("settings")
def settings() -> str:
    """OPDs and the regency's local days off (added to the national calendar)."""
    engine = central().engine
    return render_template("backoffice/settings.html", opds=accounts.list_opds(engine),
                           days=calendar.days_off_list(engine), opd_form=forms.OpdForm(),
                           day_form=forms.DayOffForm(), action_form=forms.EmptyForm())  # fmt: skip


@bp.post("/pengaturan/opd")
@requires("settings")
def save_opd() -> Any:
    form = forms.OpdForm()
    if not form.validate_on_submit():
        raise BackofficeError(_("Kode dan nama OPD wajib diisi."))
    accounts.save_opd(central().engine, form.code.data or "", form.name.data or "")
    with central().engine.begin() as conn:
        audit.record(conn, actor(), "opd-save", "opd:" + (form.code.data or ""), now_ms(), None,
                     {"name": form.name.data})  # fmt: skip
    return redirect(url_for(".settings"))


@bp.post("/pengaturan/libur")
@requires("settings")
def add_day_off() -> Any:
    form = forms.DayOffForm()
    if not form.validate_on_submit() or form.day.data is None:
        raise BackofficeError(_("Tanggal dan keterangan wajib diisi."))
    calendar.add_day_off(central().engine, form.day.data, form.name.data or "", actor(), now_ms())
    _deadlines_moved()
    return redirect(url_for(".settings"))


def _deadlines_moved() -> None:
    """After the days off changed: count the open cases' deadlines again (and send them to the kiosks)."""
    moved = cases.recompute_deadlines(central().engine, actor(), now_ms())
    flash(_("Tenggat %(count)d berkas terbuka dihitung ulang.", count=moved))


@bp.post("/pengaturan/libur/<day>/hapus")
@requires("settings")
def remove_day_off(day: str) -> Any:
    calendar.remove_day_off(central().engine, day, actor(), now_ms())
    _deadlines_moved()
    return redirect(url_for(".settings"))
