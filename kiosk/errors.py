"""Bad input and failures as kiosk pages: a 400 instead of a crash, every error page in the kiosk's own style.

- :func:`refuse_unexpected_bodies` (before every request): the kiosk's forms are plain text fields, sent
  url-encoded (or as multipart without files). A file part (``judul=@file.txt``), a JSON body or any other
  body type is refused with 400 before a view sees it, so no form field can hold anything but text.
- :func:`install` registers one handler for every HTTP error and one for unexpected exceptions (500): each
  answers the ``error.html`` page (the kiosk's layout, the citizen's language, the way home and the idle
  reset), with the right status and ``Cache-Control: no-store``. When even that page cannot be rendered (the
  store is gone), a small static page in the same style is answered instead.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The codes error.html has its own words for; any other HTTP error uses the generic text.
KNOWN = (400, 404, 405, 413, 429, 500, 503)

_FALLBACK = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Anjungan</title>
<link rel="stylesheet" href="{css}"></head>
<body><main id="main"><h1>Maaf, terjadi gangguan / Sorry, something went wrong</h1>
<form method="post" action="{finish}"><button type="submit" class="btn btn-primary btn-big">
Kembali ke beranda / Back to the home page</button></form></main></body></html>
"""


def refuse_unexpected_bodies() -> None:
    """Abort with 400 a request whose body is not a plain form, or that carries files (before_request hook)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype and request.mimetype not in FORM_TYPES:
        abort(400)
    if request.mimetype == "multipart/form-data" and request.files:
        abort(400)


def error_page(code: int, *, expired: bool = False) -> Response:
    """The kiosk's page for HTTP status ``code`` (``expired``: the form's CSRF token is missing or stale)."""
    try:
        body = render_template("error.html", code=code if code in KNOWN else 0, expired=expired)
    except Exception:  # the page itself failed (the store may be unreadable): answer a static one
        log.exception("the error page for %d could not be rendered", code)
        body = _FALLBACK.format(css=url_for("static", filename="kiosk.css"), finish=url_for("public.finish"))
    response = Response(body, status=code, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(err: HTTPException) -> Response:
    code = err.code or 500
    response = error_page(code, expired=isinstance(err, CSRFError))
    allow = getattr(err, "valid_methods", None)
    if code == 405 and allow:
        response.headers["Allow"] = ", ".join(allow)
    return response  # a 429's Retry-After and X-RateLimit headers are added by the rate limiter (kiosk/ratelimit.py)


def _unexpected(err: Exception) -> Response:
    if isinstance(err, HTTPException):
        return _http_error(err)
    log.exception("unexpected error on %s %s", request.method, request.path)  # never the form's data
    return error_page(500)


def install(app: Flask) -> None:
    """Register the body guard and the error pages on the kiosk app."""
    app.before_request(refuse_unexpected_bodies)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
