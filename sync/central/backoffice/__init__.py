"""The central's back office: the web application PPID officers work in (docs/backoffice.md).

:func:`init_app` adds it to the central's Flask app: Flask-Login with server-side sessions, CSRF on every
back-office form (Flask-WTF), a rate limit on the login (Flask-Limiter), Bahasa Indonesia with English
(Flask-Babel), and the blueprints. The sync API (``/api/v1``) and the open-data paths are left as they are:
only the back office's own views need a login.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULTS: dict[str, Any] = {
    "BACKOFFICE_IDLE_SECONDS": 15 * 60,  # a session ends after this long without a request
    "BACKOFFICE_LIMIT_LOGIN": "10 per minute",  # refused logins per client address, besides the account's lockout
    "BACKOFFICE_PAGE_SIZE": 50,
    "WTF_CSRF_CHECK_DEFAULT": False,  # checked by the back office's blueprints only (never on /api/v1)
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (server-side) session
}
FLASK_SETTINGS: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "anjungan_bo",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
}

csrf = CSRFProtect()
login_manager = LoginManager()


def current_language() -> str:
    chosen = request.cookies.get("lang", "")
    return chosen if chosen in LANGUAGES else "id"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is ``Secure`` when ``SESSION_COOKIE_SECURE`` says so or the
    request came over HTTPS (as the trusted proxies report it: the setting ``proxy_count``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app)) or (has_request_context() and request.is_secure)


def _refused(response: Any) -> bool:
    """A login that counts against the client's address: a refused one (401). Successes, a busy server (503)
    and a form without its token (400) do not."""
    return int(response.status_code) == 401


def init_app(app: Flask, master_key: bytes) -> None:
    """Add the back office to the central's app (the session key is derived from the master key)."""
    from sync.central.backoffice import accounts, session
    from sync.central.backoffice.views import register

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.update(FLASK_SETTINGS)
    if not app.config.get("SECRET_KEY"):  # the same in every worker and after a restart
        app.config["SECRET_KEY"] = hmac.new(master_key, b"backoffice-session", hashlib.sha256).hexdigest()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=current_language)
    csrf.init_app(app)
    login_manager.init_app(app)
    session.configure(login_manager)
    register(app)
    state = app.extensions["anjungan.central"]
    app.config["SESSION_COOKIE_SECURE"] = bool(state.settings.cookie_secure)
    app.session_interface = SessionInterface()
    slots = (
        app.config.get("BACKOFFICE_LOGIN_SLOTS")
        or state.settings.pool_size + state.settings.pool_overflow - 1
    )
    app.extensions["anjungan.backoffice.login_gate"] = accounts.LoginGate(int(slots))
    # one limiter per app (its counts are the app's own); the login's budget is read from the config
    limiter = Limiter(get_remote_address, app=app, default_limits=[], storage_uri="memory://")
    login = app.view_functions["backoffice_auth.login"]
    limit = limiter.limit(
        lambda: str(app.config["BACKOFFICE_LIMIT_LOGIN"]), methods=["POST"], deduct_when=_refused
    )
    app.view_functions["backoffice_auth.login"] = limit(login)  # type: ignore[assignment]
