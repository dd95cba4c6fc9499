"""The sync API (contract in DESIGN.md, wire formats in docs/protocol.md)."""

from __future__ import annotations

import hmac
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from werkzeug.exceptions import ClientDisconnected, NotFound, RequestEntityTooLarge, RequestTimeout

from sync import protocol
from sync.central import errors, sealing, service
from sync.central.app import central
from sync.central.fleet import ingest as fleet_ingest
from sync.central.openapi import openapi_document
from sync.central.settings import CentralSettings

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
    try:
        secret = state.secret(gateway_id) if 0 < len(gateway_id) <= 64 else None
    except sealing.SealError as err:  # the operator's fault (a wrong master key), not the asker's business
        _log_seal_error(gateway_id, err)
        secret = None
    if secret is None:
        raise protocol.SignatureError(NOT_SIGNED)
    return gateway_id, secret


_SEAL_LOGGED: set[tuple[int, str]] = set()


def _log_seal_error(gateway_id: str, err: sealing.SealError) -> None:
    """Tell the operator, once per gateway and app, why a known gateway's requests are refused."""
    key = (id(central()), gateway_id)
    if key not in _SEAL_LOGGED:
        _SEAL_LOGGED.add(key)
        current_app.logger.error(
            "gateway %r: %s; its requests are refused (401) until the central runs with the master key that "
            "sealed it (ANJUNGAN_CENTRAL_SERVER_KEY_FILE or ANJUNGAN_CENTRAL_SERVER_KEY)",
            gateway_id,
            err,
        )


CHUNK = 16 << 10  # small enough that a body arriving at the minimum rate is never cut between two pieces
SPOOL = 256 << 10  # a body larger than this waits on disk until its signature is known good
MAX_UNLIMITED = 1 << 40


def _announced_size() -> tuple[int, int]:
    """(bytes to expect, the most allowed) from the headers alone, before anything else is looked at, so that
    an oversized request gets the same 413 whoever it claims to come from (ids cannot be probed by size)."""
    length = request.content_length
    limit = current_app.config["MAX_CONTENT_LENGTH"] or MAX_UNLIMITED
    if length is not None and length > limit:
        raise RequestEntityTooLarge(f"the body is over {limit} bytes")
    if length is None:  # no Content-Length: a chunked body may be as large as allowed; else there is none
        chunked = "chunked" in (request.headers.get("Transfer-Encoding") or "").lower()
        length = limit if chunked else 0
    return length, limit


@contextmanager
def authenticated() -> Iterator[tuple[str, bytes]]:
    """The sender's gateway id and the request body, signature checked.

    In this order: the announced size (413), who claims to ask (:func:`_check_sender`, 401), room in the
    in-flight budget (503 busy), then the body. The claimed gateway id's share of the budget takes the whole
    announced body (one body of the largest size per id: whoever names an id can only slow that gateway),
    the shared budget only what is held in memory before the signature is known good (the spool's first
    ``SPOOL`` bytes; the rest waits on disk). The body is read in pieces into the signature's HMAC and a spool
    file, and must keep arriving at ``body_min_rate_kib`` after ``body_grace_s`` (408 otherwise: see
    :class:`BodyWatch`). Once the signature is good, the whole body counts against the shared budget, and
    the request's reservation (``g.reservation``, for decoding) is given back when the block ends.
    """
    state = central()
    length, limit = _announced_size()
    gateway_id, secret = _check_sender()
    with state.inflight.reservation(state.settings.pool_timeout_s) as reservation:
        g.reservation = reservation
        early = min(length, SPOOL)
        reservation.take(early, gateway_id, of_sender=length)
        stamp = int((request.headers.get(protocol.HEADER_TIMESTAMP) or "0").strip())
        mac = protocol.signer(secret, stamp, request.method, signed_target())
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            size = _read_body(spool, mac, limit)
            given = (request.headers.get(protocol.HEADER_SIGNATURE) or "").strip().lower()
            if not hmac.compare_digest(mac.hexdigest().encode(), given.encode("ascii", "replace")):
                raise protocol.SignatureError(NOT_SIGNED)
            reservation.take(size - early)  # signed by the gateway: now held whole in memory
            spool.seek(0)
            body = spool.read()
        yield gateway_id, body


def _read_body(spool: IO[bytes], mac: hmac.HMAC, limit: int) -> int:
    """Read the request body into ``mac`` and ``spool``; answer its size. Raises RequestEntityTooLarge beyond
    ``limit`` and RequestTimeout (408) when it arrives slower than the minimum rate."""
    settings = central().settings
    watch = BODY_WATCH.watch(request.environ, settings.body_grace_s, settings.body_min_rate_kib * 1024)
    size = 0
    try:
        stream = request.stream
        while True:
            try:
                chunk = stream.read(CHUNK)
            except (OSError, ClientDisconnected) as err:
                if watch.cut:
                    raise _too_slow(settings) from err
                raise
            if watch.cut or watch.late():
                raise _too_slow(settings)
            if not chunk:
                return size
            size += len(chunk)
            watch.received = size
            if size > limit:
                raise RequestEntityTooLarge(f"the body is over {limit} bytes")
            mac.update(chunk)
            spool.write(chunk)
    finally:
        BODY_WATCH.forget(watch)


def _too_slow(settings: CentralSettings) -> RequestTimeout:
    return RequestTimeout(
        f"the body arrived slower than {settings.body_min_rate_kib:g} KiB/s after {settings.body_grace_s:g} s"
    )


class _Watched:
    """One request body being read: since when, how much so far, and whether it was cut."""

    def __init__(self, sock: socket.socket | None, grace_s: float, rate: float):
        self.sock, self.grace_s, self.rate = sock, grace_s, rate
        self.start = time.monotonic()
        self.received = 0
        self.cut = False

    def late(self, now: float | None = None) -> bool:
        """The body is behind the minimum rate: fewer bytes than ``rate`` × (time since start − grace)."""
        now = time.monotonic() if now is None else now
        return now > self.start + self.grace_s + self.received / self.rate


class BodyWatch:
    """Cuts request bodies that arrive slower than a minimum rate, so that a trickle (a byte a second under a
    16 MiB Content-Length) cannot hold a worker thread and its in-flight reservation for ever.

    Under gunicorn the app reads the body from the client's socket (``environ["gunicorn.socket"]``) and a
    read blocks until its bytes arrive: one thread per process looks twice a second at the bodies being
    read and shuts the reading side of a late one's socket, which ends the blocked read (answered 408).
    Waitress reads the whole body before it calls the app (its own ``channel_timeout`` bounds a stalled
    client), so there nothing is watched but the rate is still checked after each piece.
    """

    def __init__(self, period_s: float = 0.5):
        self.period_s = period_s
        self._watched: set[_Watched] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, environ: dict, grace_s: float, rate: float) -> _Watched:
        sock = environ.get("gunicorn.socket")
        watched = _Watched(sock if isinstance(sock, socket.socket) else None, grace_s, rate)
        if watched.sock is not None:
            with self._cond:
                self._watched.add(watched)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="anjungan-body-watch", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
        return watched

    def forget(self, watched: _Watched) -> None:
        with self._cond:
            self._watched.discard(watched)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._watched:
                    self._cond.wait()
                late = [w for w in self._watched if w.late()]
                for watched in late:
                    self._watched.discard(watched)
            for watched in late:
                watched.cut = True
                try:
                    assert watched.sock is not None
                    watched.sock.shutdown(socket.SHUT_RD)  # the blocked read returns: nothing more arrives
                except OSError:
                    pass
            time.sleep(self.period_s)


BODY_WATCH = BodyWatch()


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
        batch = protocol.decode_batch(
            body,
            dict(request.headers),
            max_bytes=state.max_inflated,
            max_records=state.max_records,
            reserve=g.reservation.take,  # inflated bytes and decoded records count as much as the body
        )
        del body
        answer = service.store_batch(state.engine, gateway_id, batch, int(state.clock() * 1000))
    return jsonify(answer)


@api.get("/changes")
def get_changes() -> Response:
    """One page of content and status changes for this gateway; 401, 400 for a bad cursor or limit."""
    gateway_id = authenticate()
    limit_text = request.args.get("limit", str(DEFAULT_PAGE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise errors.CentralError(f"limit is a whole number from 1 to {MAX_PAGE}")
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
