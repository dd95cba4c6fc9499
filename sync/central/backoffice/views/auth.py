"""Login, logout and the language switch. ``/`` is the login page."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from sync.central.app import central
from sync.central.backoffice import LANGUAGES, accounts, audit, forms, roles
from sync.central.backoffice.errors import LoginBusy, LoginRefused
from sync.central.backoffice.models import users
from sync.central.backoffice.session import now_ms, officer
from sync.central.backoffice.views import HERE, blueprint
from sync.central.errors import status_of

bp = blueprint("auth", static_folder=str(HERE / "static"), static_url_path="/bo-static")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) is followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


def _rotate_csrf() -> None:
    """A new CSRF token from the next page on (at login and logout), so that a token seen before the login, or
    in a session that ended, is worth nothing afterwards."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)


def refused_actor(typed: str) -> audit.Actor:
    """Who a refused login is recorded as: an existing account by its name; a name that is no account only by a
    keyed hash of it (people type a password into the name field), so the trail never holds what was typed."""
    name = typed.strip().lower()
    with central().engine.connect() as conn:
        known = conn.execute(sa.select(users.c.username).where(users.c.username == name)).scalar()
    if known is None:
        key = str(current_app.config["SECRET_KEY"]).encode()
        digest = hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:16]
        return audit.Actor("unknown user", "-", request.remote_addr, target=f"user-unknown:{digest}")
    return audit.Actor(str(known), "-", request.remote_addr, target=f"user:{known}")


@bp.route("/", methods=["GET", "POST"])
def login() -> Any:
    """The login page; 401 with the page again on a refused login, 429 past the rate limit (set in init_app),
    503 when every password-check slot is taken (a login flood), 400 on a bad CSRF token."""
    if current_user.is_authenticated:
        return redirect(url_for(roles.HOME[current_user.role]))
    form = forms.LoginForm()
    if form.validate_on_submit():
        engine = central().engine
        try:
            me = accounts.log_in(engine, form.username.data or "", form.password.data or "", now_ms(),
                                 current_app.extensions["anjungan.backoffice.login_gate"])  # fmt: skip
        except LoginBusy as err:
            flash(_("Terlalu banyak permintaan masuk saat ini. Coba lagi sebentar lagi."))
            return render_template("backoffice/login.html", form=form), status_of(err), {"Retry-After": "5"}
        except LoginRefused as err:
            actor = refused_actor(form.username.data or "")
            with engine.begin() as conn:
                audit.record(conn, actor, "login-refused", actor.target or "user:?", now_ms())
            flash(_("Nama pengguna atau kata sandi salah, atau akun sedang dikunci sementara."))
            return render_template("backoffice/login.html", form=form), status_of(err)
        _rotate_csrf()
        login_user(me)
        with engine.begin() as conn:
            audit.record(conn, audit.Actor(me.username, me.role, request.remote_addr), "login",
                         "user:" + me.username, now_ms())  # fmt: skip
        return redirect(_safe_next(request.args.get("next")) or url_for(roles.HOME[me.role]))
    return render_template("backoffice/login.html", form=form), 400 if form.is_submitted() else 200


@bp.post("/keluar")
def logout() -> Any:
    """End the session on the server and in the browser (and its CSRF token); back to the login page."""
    me = officer()
    accounts.end_session(central().engine, me.token, now_ms())
    with central().engine.begin() as conn:
        audit.record(conn, audit.Actor(me.username, me.role, request.remote_addr), "logout",
                     "user:" + me.username, now_ms())  # fmt: skip
    logout_user()
    _rotate_csrf()
    flash(_("Anda sudah keluar."))
    return redirect(url_for("backoffice_auth.login"))


@bp.get("/bahasa/<code>")
def language(code: str) -> Any:
    """Switch the back office's language (a cookie) and go back."""
    target = _safe_next(request.args.get("next")) or url_for("backoffice_auth.login")
    response = redirect(target)
    if code in LANGUAGES:
        secure = bool(current_app.config["SESSION_COOKIE_SECURE"]) or request.is_secure
        response.set_cookie("lang", code, samesite="Lax", httponly=True, secure=secure)
    return response
