"""Admin pages: the fleet, officers' accounts, the audit trail, OPDs and local days off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from sync.central import service
from sync.central.app import central
from sync.central.backoffice import accounts, audit, calendar, cases, forms, labels
from sync.central.backoffice.errors import BackofficeError, NotFoundError
from sync.central.backoffice.intake import OFFICE_TZ
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import blueprint, page_arg, requires, valid

bp = blueprint("admin")


@bp.get("/armada")
@requires("fleet")
def fleet() -> str:
    """The fleet at a glance: each kiosk's contact, backlog and health, its nodes, the map (views/fleet.py)."""
    from sync.central.backoffice.views.fleet import fleet_page

    return fleet_page()


def _user_form(empty: bool = False) -> forms.UserForm:
    """The form that adds an account (``empty``: not read from the request), its OPD choices filled."""
    form = forms.UserForm(formdata=None) if empty else forms.UserForm()
    form.opd.choices = forms.choices(
        [("", "—")]
        + [(o["code"], f"{o['code']} — {o['name']}") for o in accounts.list_opds(central().engine)]
    )
    return form


def _office_time(ms: int) -> str:
    """A moment (ms since the epoch) in the office's time zone, e.g. ``2026-11-23 23:15 WIB``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(OFFICE_TZ).strftime("%Y-%m-%d %H:%M WIB")


def _users_page(password: str | None = None, new_user: str | None = None) -> str:
    """The users page: every account, with its lockout when one runs now (``locked_until``, office time)."""
    at = now_ms()
    rows = accounts.list_users(central().engine)
    for row in rows:
        locked = row["locked_until_ms"] is not None and row["locked_until_ms"] > at
        row["locked_until"] = _office_time(row["locked_until_ms"]) if locked else None
    return render_template("backoffice/users.html", users=rows, form=_user_form(empty=True), password=password,
                           new_user=new_user, action_form=forms.EmptyForm())  # fmt: skip


@bp.get("/pengguna")
@requires("users")
def users() -> str:
    """Officers' accounts (never their password hashes), locked ones with the time their lockout ends."""
    return _users_page()


@bp.post("/pengguna")
@requires("users")
def add_user() -> Any:
    """Create an account; the generated password is shown once. 400 on a bad name/role/OPD (no role is chosen
    for the admin: the form asks for one)."""
    form = valid(_user_form(), _("Data pengguna tidak lengkap."))
    engine, at = central().engine, now_ms()
    password = accounts.add_user(engine, form.username.data or "", form.role.data or "", opd=form.opd.data or None,
                                 password=None, now_ms=at)  # fmt: skip
    with engine.begin() as conn:
        after = {"role": form.role.data, "opd": form.opd.data or None}
        audit.record(conn, actor(), "user-add", "user:" + (form.username.data or "").lower(), at, None, after)
    return _users_page(password, (form.username.data or "").lower())


USER_ACTIONS = ("nonaktif", "aktif", "reset", "buka-kunci")
CONFIRMED = "ya"  # the value of the ``konfirmasi`` field a confirmation page sends


def _confirm_deactivation(username: str) -> str:
    """The page that asks before an account is deactivated (its sessions end at once)."""
    with central().engine.connect() as conn:
        found = accounts.user(conn, username)
    return render_template(
        "backoffice/confirm.html", title=_("Nonaktifkan akun %(name)s?", name=username),
        explanation=_("Petugas ini tidak dapat masuk lagi dan semua sesinya berakhir sekarang. Akun dapat "
                      "diaktifkan kembali nanti; petugas lalu masuk lagi."),
        facts=[(_("Nama pengguna"), found["username"]), (_("Peran"), labels.role(found["role"])),
               (_("OPD"), found["opd"] or "—")],
        action=url_for(".user_action", username=username, action="nonaktif"), hidden={},
        confirm=_("Ya, nonaktifkan"), back=url_for(".users"), action_form=forms.EmptyForm(),
    )  # fmt: skip


@bp.get("/pengguna/<username>/<action>")
@requires("users")
def confirm_user_action(username: str, action: str) -> str:
    """The confirmation page of a deactivation (``action`` nonaktif); 404 for another action or user."""
    if action != "nonaktif":
        raise NotFoundError(_("Halaman tidak ada."))
    return _confirm_deactivation(username)


@bp.post("/pengguna/<username>/<action>")
@requires("users")
def user_action(username: str, action: str) -> Any:
    """Disable, enable, unlock or reset the password of an account (``action``: nonaktif, aktif, buka-kunci,
    reset); 404 for an unknown user or action. Disabling needs ``konfirmasi=ya`` (from its confirmation page):
    without it the confirmation page is answered and nothing changes."""
    engine, at = central().engine, now_ms()
    if action not in USER_ACTIONS:
        raise NotFoundError(_("Halaman tidak ada."))
    if action == "reset":
        password = accounts.reset_password(engine, username)
        with engine.begin() as conn:
            audit.record(conn, actor(), "user-reset-password", "user:" + username, at)
        return _users_page(password, username)
    if action == "buka-kunci":
        before = accounts.unlock(engine, username)
        with engine.begin() as conn:
            audit.record(conn, actor(), "user-unlock", "user:" + username, at, before,
                         {"locked_until_ms": None, "failed_logins": 0})  # fmt: skip
        flash(_("Kunci akun %(name)s dibuka: petugas dapat masuk lagi.", name=username))
        return redirect(url_for(".users"))
    if action == "nonaktif" and request.form.get("konfirmasi") != CONFIRMED:
        return _confirm_deactivation(username)
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
