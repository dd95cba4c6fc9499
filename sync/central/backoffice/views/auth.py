"""Login, logout and the language switch. ``/`` is the login page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from sync.central.app import central
from sync.central.backoffice import LANGUAGES, accounts, audit, forms, roles
from sync.central.backoffice.errors import LoginRefused
from sync.central.backoffice.session import now_ms, officer
from sync.central.backoffice.views import HERE, blueprint

bp = blueprint("auth", static_folder=str(HERE / "static"), static_url_path="/bo-static")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) is followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/", methods=["GET", "POST"])
def login() -> Any:
    """The login page; 401 with the page again on a refused login, 429 past the rate limit (set in init_app),
    400 on a bad CSRF token."""
    if current_user.is_authenticated:
        return redirect(url_for(roles.HOME[current_user.role]))
    form = forms.LoginForm()
    if form.validate_on_submit():
        engine = central().engine
        try:
            me = accounts.log_in(engine, form.username.data or "", form.password.data or "", now_ms())
        except LoginRefused:
            with engine.begin() as conn:
                actor = audit.Actor((form.username.data or "")[:64], "-", request.remote_addr)
                audit.record(conn, actor, "login-refused", "user:" + actor.username, now_ms())
            flash(_("Nama pengguna atau kata sandi salah, atau akun sedang dikunci sementara."))
            return render_template("backoffice/login.html", form=form), 401
        login_user(me)
        with engine.begin() as conn:
            audit.record(conn, audit.Actor(me.username, me.role, request.remote_addr), "login",
                         "user:" + me.username, now_ms())  # fmt: skip
        return redirect(_safe_next(request.args.get("next")) or url_for(roles.HOME[me.role]))
    return render_template("backoffice/login.html", form=form), 400 if form.is_submitted() else 200


@bp.post("/keluar")
def logout() -> Any:
    """End the session on the server and in the browser; back to the login page."""
    me = officer()
    accounts.end_session(central().engine, me.token, now_ms())
    with central().engine.begin() as conn:
        audit.record(conn, audit.Actor(me.username, me.role, request.remote_addr), "logout",
                     "user:" + me.username, now_ms())  # fmt: skip
    logout_user()
    flash(_("Anda sudah keluar."))
    return redirect(url_for("backoffice_auth.login"))


@bp.get("/bahasa/<code>")
def language(code: str) -> Any:
    """Switch the back office's language (a cookie) and go back."""
    target = _safe_next(request.args.get("next")) or url_for("backoffice_auth.login")
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie("lang", code, samesite="Lax", httponly=True)
    return response
