"""The kiosk web app (Flask app factory): citizen pages, operator pages, security and caching.

``create_app(cfg, test_config=None)``: ``cfg`` is a :class:`gateway.config.Config`; ``test_config`` overrides
Flask settings (``KIOSK_*`` below) for tests. No configuration is read at import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from gateway import private
from gateway.config import Config
from gateway.store import Store
from kiosk import errors, i18n, metrics
from kiosk.pagecache import PageCache
from kiosk.ratelimit import RateLimiter, Rule
from kiosk.renderworker import BoundedWorker
from kiosk.speech import Speech
from kiosk.status import Relay, ShownStatus

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The charts are SVG documents loaded as images; pygal styles them with an inline <style>.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

# Rate limits (Flask-Limiter's syntax, kiosk/ratelimit.py; from the app settings named here): endpoint -> (setting, scope, methods).
# The three submission forms share one budget; lookups and the operator login have their own.
RATE_LIMITS: dict[str, tuple[str, str, list[str] | None]] = {
    "submit.permohonan": ("KIOSK_LIMIT_SUBMIT", "submit", ["POST"]),
    "submit.pengaduan": ("KIOSK_LIMIT_SUBMIT", "submit", ["POST"]),
    "submit.keberatan": ("KIOSK_LIMIT_SUBMIT", "submit", ["POST"]),
    "submit.status_lookup": ("KIOSK_LIMIT_STATUS", "status", ["POST"]),
    "submit.status_show": ("KIOSK_LIMIT_STATUS", "status", None),
    "operator.login": ("KIOSK_LIMIT_LOGIN", "login", ["POST"]),
    "operator.printer_test": ("KIOSK_LIMIT_SUBMIT", "printer", ["POST"]),
    "survey.survey": ("KIOSK_LIMIT_SUBMIT", "survey", ["POST"]),
    "public.listen": ("KIOSK_LIMIT_LISTEN", "listen", None),
}


def _session_key() -> str:
    """The rate limit's key of this browser session (a random token kept in the session): the survey is rated
    at the kiosk's own screen, where every citizen has the same address, so its budget is per session."""
    return "session:" + str(session.setdefault("client", secrets.token_urlsafe(16)))


# Routes whose budget is per session rather than per address (the default, ``get_remote_address``). The
# survey needs no more: a rating is also spent from the session's allowance (kiosk/views/survey.py).
PER_SESSION = {"survey.survey"}


def _apply_rate_limits(app: Flask, limiter: RateLimiter) -> None:
    for endpoint, (setting, scope, methods) in RATE_LIMITS.items():
        if endpoint not in app.view_functions:
            raise KeyError(f"a rate limit names no endpoint: {endpoint}")
        key = _session_key if endpoint in PER_SESSION else None
        only = None if methods is None else frozenset(methods)
        limiter.limit(endpoint, Rule(_config_value(app, setting), scope, only, key))


def _config_value(app: Flask, setting: str) -> Callable[[], str]:
    return lambda: str(app.config[setting])


def _defaults(cfg: Config) -> dict[str, Any]:
    kiosk = cfg.kiosk
    return {
        "KIOSK_OFFICE": cfg.gateway.name,
        "KIOSK_GATEWAY_ID": cfg.gateway.id,
        "KIOSK_LANGUAGE": kiosk.language if kiosk.language in i18n.LANGUAGES else "id",
        "KIOSK_IDLE_SECONDS": max(10, kiosk.idle_seconds),
        "KIOSK_IDLE_WARNING_SECONDS": max(20, kiosk.idle_warning_seconds),  # WCAG 2.2.1: at least 20 s
        "KIOSK_PASSWORD_HASH": kiosk.operator_password_hash,
        "KIOSK_PRINTER": kiosk.printer,  # a spec string, or an escpos printer object (tests)
        "KIOSK_PUBLIC_URL": kiosk.public_url.rstrip("/"),
        "KIOSK_WATER_ALERT_CM": kiosk.water_alert_cm,
        "KIOSK_MAINS_MIN_V": kiosk.mains_min_v,
        "KIOSK_STALE_MS": kiosk.stale_minutes * 60_000,
        "KIOSK_DATA_DIR": Path(cfg.data_dir),
        "KIOSK_PAGE_CACHE_SECONDS": 5.0,
        "KIOSK_CHART_CACHE_SECONDS": 60.0,
        "KIOSK_RENDER_SECONDS": 5.0,  # the bound of one chart or page render (kiosk/renderworker.py)
        "KIOSK_NODE_LABELS": dict(kiosk.node_labels),
        "KIOSK_ALERT_CACHE_SECONDS": 2.0,
        "KIOSK_ALERT_POLL_SECONDS": 5,
        "KIOSK_LIMIT_SUBMIT": "10 per minute",
        "KIOSK_LIMIT_STATUS": "30 per minute",
        "KIOSK_LIMIT_LISTEN": "60 per minute",  # readings asked ("Dengarkan", a field read aloud)
        "KIOSK_LIMIT_LOGIN": "5 per minute",
        "KIOSK_OPERATOR_IDLE_SECONDS": 15 * 60,  # an operator session unused this long ends
        "KIOSK_OPERATOR_MAX_AGE_SECONDS": 8 * 3600,  # and any ends this long after its login
        "KIOSK_LOGIN_FREE_FAILURES": 5,  # failed operator logins before the account locks
        "KIOSK_LOGIN_LOCK_BASE_SECONDS": 30.0,  # the first lock; doubled per further failure
        "KIOSK_LOGIN_LOCK_CAP_SECONDS": 15 * 60.0,
        "KIOSK_LIMIT_STATUS_NUMBER": "10 per minute",  # lookups of one number, whichever device asks
        "KIOSK_RELAY_LOOKUPS": bool(cfg.central.url),  # numbers of other kiosks are asked at the central
        "KIOSK_LOOKUP_WAIT_SECONDS": 5.0,
        "KIOSK_LOOKUP_WAITERS": 1,  # request threads that may wait for a relayed answer at a time
        "KIOSK_LOOKUP_RETRY_SECONDS": 8,  # the busy page tries again after this long
        "KIOSK_SPEECH_CACHE_BYTES": 64
        * 1024
        * 1024,  # the WAV files of public pages read aloud (kiosk/speech.py)
        "KIOSK_SPEECH_PRIVATE_BYTES": 32 * 1024 * 1024,  # in memory: private readings' audio, all sessions
        "KIOSK_SPEECH_VOLATILE_BYTES": 8 * 1024 * 1024,  # in memory: the audio of pages of live values
        "KIOSK_SPEECH_SECONDS": 30.0,  # the bound of one espeak-ng run
        "KIOSK_ESPEAK": "espeak-ng",
        "KIOSK_METRICS_TOKEN": kiosk.metrics_token,
        "KIOSK_METRICS_ALLOW": kiosk.metrics_allow,
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "KIOSK_SESSIONS_MAX": 1000,  # sessions kept in memory at most (kiosk/sessions.py)
        "SESSION_COOKIE_NAME": "anjungan",  # holds a random session id only
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "WTF_CSRF_TIME_LIMIT": None,  # the idle reset ends sessions; a token must not expire mid-form
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": kiosk.timezone,
    }


def _secret_key(cfg: Config) -> str:
    """The configured key, or one kept in ``<data_dir>/kiosk.key`` (created 0600 on first start)."""
    if cfg.kiosk.secret_key:
        return cfg.kiosk.secret_key
    path = Path(cfg.data_dir) / "kiosk.key"
    if not path.exists():
        private.ensure_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if "Cache-Control" not in headers and request.endpoint != "static":
        headers["Cache-Control"] = "no-store"  # a shared screen: never keep a citizen's page in history
    return response


def create_app(cfg: Config, test_config: Mapping[str, Any] | None = None) -> Flask:
    """The kiosk app for configuration ``cfg``; ``test_config`` overrides the ``KIOSK_*`` settings (and
    ``KIOSK_CLOCK``, a :class:`gateway.store.clock.SystemClock` that tests inject to step the wall clock)."""
    app = Flask(__name__)
    app.config.update(_defaults(cfg))
    app.config["SECRET_KEY"] = _secret_key(cfg)
    if test_config:
        app.config.update(test_config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(i18n.ensure_compiled())
    app.extensions["anjungan_store"] = Store.from_config(cfg, clock=app.config.get("KIOSK_CLOCK"))
    app.extensions["anjungan_renderer"] = BoundedWorker(float(app.config["KIOSK_RENDER_SECONDS"]))
    app.extensions["anjungan_lookup_relay"] = Relay(
        float(app.config["KIOSK_LOOKUP_WAIT_SECONDS"]), int(app.config["KIOSK_LOOKUP_WAITERS"])
    )
    app.extensions["anjungan_shown_status"] = ShownStatus()

    app.extensions["anjungan_speech"] = Speech(
        Path(app.config["KIOSK_DATA_DIR"]) / "speech",
        int(app.config["KIOSK_SPEECH_CACHE_BYTES"]),
        float(app.config["KIOSK_SPEECH_SECONDS"]),
        str(app.config["KIOSK_ESPEAK"]),
        private_bytes=int(app.config["KIOSK_SPEECH_PRIVATE_BYTES"]),
        volatile_bytes=int(app.config["KIOSK_SPEECH_VOLATILE_BYTES"]),
    )

    from kiosk import sessions

    sessions.install(app)  # in memory on the server; the cookie names a session, holding none of it
    Babel(app, locale_selector=i18n.current_language)
    CSRFProtect(app)
    limiter = RateLimiter()
    limiter.init_app(app)
    app.extensions["anjungan_limiter"] = limiter

    from kiosk.views import operator, public, submit, survey

    for module in (public, submit, survey, operator):
        app.register_blueprint(module.bp)
    app.register_blueprint(metrics.bp)
    _apply_rate_limits(app, limiter)
    app.after_request(_security_headers)
    public.install_template_globals(app)
    errors.install(app)
    app.wsgi_app = PageCache(  # type: ignore[method-assign]
        app.wsgi_app,
        lambda: float(app.config["KIOSK_PAGE_CACHE_SECONDS"]),
        i18n.cache_variant(lambda: str(app.config["KIOSK_LANGUAGE"])),
    )
    return app


def close_app(app: Flask) -> None:
    """Close the app's store connections and stop its render worker (tests; the server process simply exits)."""
    app.extensions["anjungan_renderer"].close()
    app.extensions["anjungan_store"].close()
