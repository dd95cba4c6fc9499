"""The back office's blueprints and what they share: the login guard, CSRF, role checks, error pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden, MethodNotAllowed, NotFound, RequestEntityTooLarge, TooManyRequests

from sync.central import service
from sync.central.backoffice import csrf, labels, login_manager, roles
from sync.central.backoffice.errors import BackofficeError
from sync.central.backoffice.reports import decimal as _decimal
from sync.central.errors import status_of

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_ENDPOINTS = {"backoffice_auth.login", "backoffice_auth.language", "backoffice_auth.static"}


HERE = Path(__file__).resolve().parent.parent


def blueprint(name: str, **options: Any) -> Blueprint:
    """A back-office blueprint: every view needs a live session (except the login) and CSRF on every POST."""
    bp = Blueprint(f"backoffice_{name}", __name__, template_folder=str(HERE / "templates"), **options)

    @bp.before_request
    def _guard() -> Any:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    bp.after_request(_security_headers)
    bp.register_error_handler(BackofficeError, _error_page)
    bp.register_error_handler(Forbidden, _forbidden_page)
    bp.register_error_handler(CSRFError, _csrf_page)
    bp.register_error_handler(TooManyRequests, _too_many_page)
    bp.register_error_handler(RequestEntityTooLarge, _too_large_page)
    return bp


# Every back-office page: never framed (clickjacking), no script at all (the pages need none; no inline
# script can run), no MIME sniffing, no address leaked to other sites.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self' data:; "
    "style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _security_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


MAX_PAGE = 100_000  # a page number beyond this is read as this one (no offset the database cannot hold)
MAX_ID = 2**31 - 1  # an id in a path beyond the database's integer is answered 404, never a database error


def page_arg() -> int:
    """The ``page`` query argument, clamped to 1..MAX_PAGE (anything else, e.g. text, is page 1)."""
    text = request.args.get("page", "1").strip()
    page = int(text) if text.isdigit() and len(text) <= 9 else (MAX_PAGE if text.isdigit() else 1)
    return min(max(1, page), MAX_PAGE)


def valid(form: Any, fallback: str | None = None) -> Any:
    """``form`` when it validates; else BackofficeError (400) naming each field's label and its problems in the
    page's language (``fallback``, or "Isian tidak lengkap.", when no field names one)."""
    if form.validate_on_submit():
        return form
    problems = "; ".join(f"{form[name].label.text}: {' '.join(str(e) for e in errs)}"
                         for name, errs in form.errors.items() if name != "csrf_token")  # fmt: skip
    raise BackofficeError(problems or fallback or _("Isian tidak lengkap."))


def requires(capability: str) -> Callable[[F], F]:
    """A view only for the roles that have ``capability`` (roles.CAPABILITIES); 403 for the others."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not roles.can(current_user.role, capability):
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper.capability = capability  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _error_page(err: BackofficeError) -> tuple[str, int]:
    status = status_of(err)
    return render_template("backoffice/error.html", message=str(err), status=status), status


def _forbidden_page(_err: Forbidden) -> tuple[str, int]:
    return render_template("backoffice/error.html", message=None, status=403), 403


def _csrf_page(_err: CSRFError) -> tuple[str, int]:
    """A form without its CSRF token, or with a stale one (Flask-WTF's reason is English and technical)."""
    message = _("Formulir ini sudah tidak berlaku (misalnya sesi sudah berganti). Muat ulang halaman, lalu kirim "
                "lagi.")  # fmt: skip
    return render_template("backoffice/error.html", message=message, status=400), 400


def _too_many_page(_err: TooManyRequests) -> tuple[str, int]:
    return render_template("backoffice/error.html", message=None, status=429), 429


def _too_large_page(_err: RequestEntityTooLarge) -> tuple[str, int]:
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0) >> 20
    message = _("Berkas terlalu besar: paling besar %(mb)d MB.", mb=max(1, limit))
    return render_template("backoffice/error.html", message=message, status=413), 413


# the paths machines read (the kiosks' sync API, Open311, the open-data downloads, Prometheus): their errors stay
# JSON; every other path is the back office's, whose errors are pages in the officer's language
MACHINE_PATHS = ("/api/", "/open311/", "/opendata/", "/metrics")


def _machine_path(path: str) -> bool:
    return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in MACHINE_PATHS)


def _unknown_page(err: NotFound | MethodNotAllowed) -> Any:
    """An unknown address (404) or a method a page does not take (405): the back office's error page in the
    officer's language; under :data:`MACHINE_PATHS` the JSON answer the machine interfaces give."""
    from sync.central.app import http_error

    if _machine_path(request.path):
        return http_error(err)
    status = err.code or 404
    message = (
        _("Alamat ini tidak ada. Periksa tautannya atau kembali ke halaman awal.") if status == 404 else None
    )
    return _security_headers(make_response(render_template("backoffice/error.html", message=message,
                                                             status=status), status))  # fmt: skip


def register(app: Flask) -> None:
    from sync.central.backoffice.views import admin, auth, cases, fleet, inbox, publish, reports, sms

    for module in (auth, admin, inbox, cases, publish, reports, fleet, sms):
        app.register_blueprint(module.bp)
    app.context_processor(_template_globals)
    app.add_template_filter(service.iso_utc, "iso")
    app.add_template_filter(_decimal, "decimal")
    app.register_error_handler(NotFound, _unknown_page)
    app.register_error_handler(MethodNotAllowed, _unknown_page)


def _template_globals() -> dict[str, Any]:
    from sync.central.backoffice import current_language

    return {"can": lambda capability: current_user.is_authenticated and roles.can(current_user.role, capability),
            "has_view": lambda endpoint: endpoint in current_app.view_functions,
            "lang": current_language(), "labels": labels}  # fmt: skip
