"""The sync API (contract in DESIGN.md, wire formats in docs/protocol.md)."""

from __future__ import annotations

import hmac
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from sync import protocol
from sync.central import service
from sync.central.app import central
from sync.central.fleet import ingest as fleet_ingest
from sync.central.openapi import openapi_document

api = Blueprint("api", __name__)
MAX_PAGE = 1000
DEFAULT_PAGE = 500


def signed_target() -> str:
    """The request target as the client signed it: the path and, when there is one, its query string."""
    target = quote(
        request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=~"
    )
    query = request.environ.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


# One answer for every refusal of who is asking (an unknown gateway id, a removed gateway, a missing or wrong
# signature), so that gateway ids cannot be probed.
NOT_SIGNED = "the request is not signed by a known gateway"


def _check_sender() -> tuple[str, str]:
    """Before any of the body is read: the timestamp is whole unix seconds within MAX_SKEW_S of the central's
    clock, and the gateway id belongs to a gateway that is not removed. Answers (gateway id, its secret);
    raises SkewError (which needs no secret: the central's time is public) or SignatureError (NOT_SIGNED)."""
    state = central()
    gateway_id = request.headers.get(protocol.HEADER_GATEWAY, "")
    stamp = (request.headers.get(protocol.HEADER_TIMESTAMP) or "").strip()
    if not request.headers.get(protocol.HEADER_SIGNATURE) or not re.fullmatch(r"-?[0-9]{1,15}", stamp):
        raise protocol.SignatureError(NOT_SIGNED)
    now = state.clock()
    if abs(now - int(stamp)) > protocol.MAX_SKEW_S:
        raise protocol.SkewError(
            f"the timestamp is {int(int(stamp) - now)} s off the central's clock", int(now)
        )
    secret = state.secret(gateway_id) if 0 < len(gateway_id) <= 64 else None
    if secret is None:
        raise protocol.SignatureError(NOT_SIGNED)
    return gateway_id, secret


CHUNK = 64 << 10
SPOOL = 256 << 10  # a body larger than this waits on disk until its signature is known good


@contextmanager
def authenticated() -> Iterator[tuple[str, bytes]]:
    """The sender's gateway id and the request body, signature checked.

    Nothing of the body is read before :func:`_check_sender`. The body is then read in pieces into the
    signature's HMAC and a spool file (memory: at most ``SPOOL`` bytes per request until the signature is
    known good), and its bytes count against the process's in-flight budget until the block ends (a request
    that finds no room waits ``pool_timeout_s``, then is answered 503 busy).
    """
    state = central()
    gateway_id, secret = _check_sender()
    length = request.content_length
    limit = current_app.config["MAX_CONTENT_LENGTH"] or MAX_UNLIMITED
    if length is not None and length > limit:
        raise RequestEntityTooLarge(f"the body is over {limit} bytes")
    if length is None:  # no Content-Length: a chunked body may be as large as allowed; else there is none
        chunked = "chunked" in (request.headers.get("Transfer-Encoding") or "").lower()
        length = limit if chunked else 0
    reserved = state.inflight.take(length, state.settings.pool_timeout_s) if length else 0
    try:
        stamp = int((request.headers.get(protocol.HEADER_TIMESTAMP) or "0").strip())
        mac = protocol.signer(secret, stamp, request.method, signed_target())
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            size = 0
            stream = request.stream
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise RequestEntityTooLarge(f"the body is over {limit} bytes")
                mac.update(chunk)
                spool.write(chunk)
            given = (request.headers.get(protocol.HEADER_SIGNATURE) or "").strip().lower()
            if not hmac.compare_digest(mac.hexdigest().encode(), given.encode("ascii", "replace")):
                raise protocol.SignatureError(NOT_SIGNED)
            spool.seek(0)
            body = spool.read()
        yield gateway_id, body
    finally:
        state.inflight.give_back(reserved)


MAX_UNLIMITED = 1 << 40


def authenticate() -> str:
    """The id of the gateway that signed this bodiless request (GET); raises SignatureError or SkewError."""
    with authenticated() as (gateway_id, _body):
        return gateway_id


@api.get("/time")
def server_time() -> Response:
    """The central's clock in unix seconds; needs no signature (and no database)."""
    return jsonify({"time": central().clock()})


@api.post("/batches")
def post_batch() -> Response:
    """Store one batch; 401 bad signature / clock skew, 400 malformed, 413 too large, 422 rejected records,
    503 (with Retry-After and a reason) when the database is busy, full or unreachable."""
    state = central()
    with authenticated() as (gateway_id, body):
        batch = protocol.decode_batch(body, dict(request.headers), max_bytes=state.max_inflated)
        del body
        answer = service.store_batch(state.engine, gateway_id, batch, int(state.clock() * 1000))
    return jsonify(answer)


@api.get("/changes")
def get_changes() -> Response:
    """One page of content and status changes for this gateway; 401, 400 for a bad cursor or limit."""
    gateway_id = authenticate()
    limit_text = request.args.get("limit", str(DEFAULT_PAGE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise service.CentralError(f"limit is a whole number from 1 to {MAX_PAGE}")
    state = central()
    page = service.changes_since(state.engine, gateway_id, request.args.get("since"), int(limit_text))
    backlog = protocol.parse_backlog(request.headers.get(protocol.HEADER_BACKLOG))
    files = protocol.parse_files(request.headers.get(protocol.HEADER_FILES))
    health = protocol.parse_health(request.headers.get(protocol.HEADER_HEALTH))
    nodes = protocol.parse_nodes(request.headers.get(protocol.HEADER_NODES))
    with state.engine.begin() as conn:
        now_ms = int(state.clock() * 1000)
        service.touch_gateway(conn, gateway_id, now_ms, backlog=backlog, files=files)
        fleet_ingest.record_report(conn, gateway_id, now_ms, health, nodes)
    return jsonify(page)


@api.get("/files/<sha256>")
def get_file(sha256: str) -> Response:
    """A document's bytes by sha256, with Range support (206, Content-Range); 401, 404."""
    authenticate()
    path = service.file_path(central().files(), sha256)
    if path is None:
        raise NotFound(f"no file {sha256}")
    response = send_file(
        path, mimetype="application/octet-stream", conditional=True, etag=sha256, max_age=86400
    )
    response.headers["Accept-Ranges"] = "bytes"
    return response


@api.get("/openapi.json")
def get_openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())
