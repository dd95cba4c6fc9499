"""The sync API (contract in DESIGN.md, wire formats in docs/protocol.md)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request, send_file
from werkzeug.exceptions import NotFound

from sync import protocol
from sync.central import service
from sync.central.app import central
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


def authenticate(body: bytes) -> str:
    """The id of the gateway that signed this request; raises SignatureError or SkewError."""
    state = central()
    gateway_id = request.headers.get(protocol.HEADER_GATEWAY, "")
    secret = state.secret(gateway_id) if gateway_id else None
    if secret is None:
        raise protocol.SignatureError("unknown gateway")
    protocol.verify(secret, dict(request.headers), request.method, signed_target(), body, state.clock())
    return gateway_id


@api.get("/time")
def server_time() -> Response:
    """The central's clock in unix seconds; needs no signature."""
    return jsonify({"time": central().clock()})


@api.post("/batches")
def post_batch() -> Response:
    """Store one batch; 401 bad signature / clock skew, 400 malformed, 413 too large, 422 rejected records."""
    body = request.get_data(cache=False)
    gateway_id = authenticate(body)
    state = central()
    batch = protocol.decode_batch(body, dict(request.headers), max_bytes=state.max_inflated)
    answer = service.store_batch(state.engine, gateway_id, batch, int(state.clock() * 1000))
    return jsonify(answer)


@api.get("/changes")
def get_changes() -> Response:
    """One page of content and status changes for this gateway; 401, 400 for a bad cursor or limit."""
    gateway_id = authenticate(request.get_data(cache=False))
    limit_text = request.args.get("limit", str(DEFAULT_PAGE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise service.CentralError(f"limit is a whole number from 1 to {MAX_PAGE}")
    state = central()
    page = service.changes_since(state.engine, gateway_id, request.args.get("since"), int(limit_text))
    backlog = protocol.parse_backlog(request.headers.get(protocol.HEADER_BACKLOG))
    with state.engine.begin() as conn:
        service.touch_gateway(conn, gateway_id, int(state.clock() * 1000), backlog=backlog)
    return jsonify(page)


@api.get("/files/<sha256>")
def get_file(sha256: str) -> Response:
    """A document's bytes by sha256, with Range support (206, Content-Range); 401, 404."""
    authenticate(request.get_data(cache=False))
    path = service.file_path(central().files_dir, sha256)
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
