"""``POST /api/v1/status-lookup``: a kiosk relays a citizen's status check of a number filed at another kiosk.

Signed like every sync request (the asking gateway's id and secret). The body is ``{"number", "code"}``
(docs/protocol.md, "Status lookups"); the answer says whether the number exists and its status, and only with
the submission's status code also its due date and the officer's answer, never personal data. Lookups are
rate-limited per asking gateway and per number (Flask-Limiter's storage and moving windows), counted after the
signature is checked so that nobody else can spend a gateway's or a number's budget.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

from gateway.errors import AnjunganError
from sync import protocol
from sync.central import errors, service
from sync.central.api import authenticated
from sync.central.app import central

bp = Blueprint("status_lookup", __name__)
MAX_LOOKUP_BODY = 4096
LIMITS = {  # app config key -> default; "<count> per <period>" (limits' notation)
    "CENTRAL_LIMIT_LOOKUP_GATEWAY": "120 per minute",
    "CENTRAL_LIMIT_LOOKUP_NUMBER": "10 per minute",
}


def init_app(app: Flask) -> None:
    """Register the endpoint and its rate limiter (in memory: one central process per host)."""
    for key, default in LIMITS.items():
        app.config.setdefault(key, default)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    app.extensions["anjungan.lookup_limiter"] = limiter
    app.register_blueprint(bp, url_prefix=protocol.API_PREFIX)


def _spend(setting: str, *key: str) -> None:
    """Count one lookup against ``setting``'s limit for ``key``; raise 429 when it is spent."""
    limiter: Limiter = current_app.extensions["anjungan.lookup_limiter"]
    item = parse(str(current_app.config[setting]))
    if not limiter.limiter.hit(item, "status-lookup", *key):
        raise _TooMany(item.get_expiry())


class _TooMany(AnjunganError):
    """Answered with 429 and Retry-After (the sync client retries it later)."""

    status = 429
    error = "too many requests"

    def __init__(self, retry_after: int):
        super().__init__("too many status lookups; try again later")
        self.retry_after = retry_after


@bp.errorhandler(_TooMany)
def _too_many(err: _TooMany) -> tuple[Response, int]:
    body, status = errors.answer(err)
    response = jsonify(body)
    response.headers["Retry-After"] = str(err.retry_after)
    return response, status


@bp.post("/status-lookup")
def status_lookup() -> Response:
    """``{"number", "found": false}``, or ``{"number", "found": true, "status", "full"}`` and, when the code is
    right (``full``), ``kind``, ``submitted_at``, ``due_date``, ``answer``, ``answered_at``; 401 unsigned,
    400 malformed, 413 over 4 KiB, 429 too many lookups (per gateway, per number)."""
    if (request.content_length or 0) > MAX_LOOKUP_BODY:  # the header only: no byte of the body is read yet
        raise protocol.BodyTooLargeError(f"a status lookup is at most {MAX_LOOKUP_BODY} bytes")
    with authenticated() as (gateway_id, body):
        if len(body) > MAX_LOOKUP_BODY:  # sent chunked, without a Content-Length
            raise protocol.BodyTooLargeError(f"a status lookup is at most {MAX_LOOKUP_BODY} bytes")
        number, code = protocol.decode_status_lookup(body)
    _spend("CENTRAL_LIMIT_LOOKUP_GATEWAY", "gateway", gateway_id)
    _spend("CENTRAL_LIMIT_LOOKUP_NUMBER", "number", number)
    result = service.status_lookup(central().engine, number, code)
    if result is None:
        return jsonify({"number": number, "found": False})
    return jsonify({**result, "found": True})
