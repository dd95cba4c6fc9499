"""Flask-Login wiring: the cookie holds a session token; every request checks it on the server."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from werkzeug.wrappers import Response

from sync.central.app import central
from sync.central.backoffice import accounts
from sync.central.backoffice.audit import Actor


def now_ms() -> int:
    return int(central().clock() * 1000)


def officer() -> accounts.Officer:
    """The logged-in officer (views guarded by ``login_required`` only)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def actor() -> Actor:
    me = officer()
    return Actor(me.username, me.role, request.remote_addr)


IDLE_FLAG = "backoffice_session_idle"  # on ``g``: this request's session just ended for idleness


def _load(token: str) -> accounts.Officer | None:
    idle_ms = int(current_app.config["BACKOFFICE_IDLE_SECONDS"]) * 1000
    return accounts.load_session(
        central().engine, token, now_ms(), idle_ms, lambda: setattr(g, IDLE_FLAG, True)
    )


def _unauthorized() -> Response:
    """To the login page (back here after it, for a page); it says why when the session just ran idle."""
    if g.get(IDLE_FLAG):
        minutes = int(current_app.config["BACKOFFICE_IDLE_SECONDS"]) // 60
        flash(_("Sesi Anda berakhir karena tidak ada kegiatan selama %(minutes)d menit. Silakan masuk lagi.",
                minutes=minutes))  # fmt: skip
    elif request.method == "GET":
        flash(_("Silakan masuk terlebih dahulu."))
    return redirect(
        url_for("backoffice_auth.login", next=request.full_path if request.method == "GET" else None)
    )


def configure(manager: LoginManager) -> None:
    manager.user_loader(_load)
    manager.unauthorized_handler(_unauthorized)
    manager.session_protection = None  # the server-side session already binds the token; see accounts.py
