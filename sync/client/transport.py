"""HTTP to the central: every request signed, every failure classified in one place, every answer bounded.

:class:`CentralLink` turns what the central (or the network) answers into the client's errors
(:mod:`sync.client.errors`); the callers decide what to do about each kind.

Nothing the network sends is trusted to be small or quick: a JSON answer is read (and un-gzipped) in chunks
and refused once it grows beyond ``max_answer_bytes`` or takes longer than ``timeout_s`` to arrive, so that a
gzip bomb (from a broken central, or a captive portal in between) costs at most that much memory; the body
of a refusal is read to :data:`MAX_ERROR_BYTES` at most. Files are bounded by their announced size in
:mod:`sync.client.downlink`.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3

from sync import protocol
from sync.client.errors import (
    ClockSkewRefused,
    CredentialError,
    RejectedError,
    TransientError,
    UnreachableError,
)

CONNECT_TIMEOUT_S = 10.0
CREDENTIALS_HINT = (
    "the central refused our credentials: check [central] gateway_id and secret "
    "(the central may have removed this gateway or issued it a new secret)"
)
# The reasons a central gives with a 503 (sync/central/db.py), in plain words for `sync status` and the logs.
UNAVAILABLE_WORDS = {
    "busy": "the central is busy (its database is overloaded or locked)",
    "disk full": "the central's disk is full",
    "database unavailable": "the central cannot reach its database",
}
MAX_ANSWER_BYTES = 16 << 20  # a JSON answer (time, batch acknowledgement, changes page) once un-gzipped
MAX_ERROR_BYTES = 64 << 10  # the body of a refusal: only its short JSON error matters
CHUNK = 64 << 10
ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")  # what an answer may be encoded with


class CentralLink:
    """One gateway's connection to the central's sync API (signed HTTP); the central's own state is
    :class:`sync.central.app.CentralState`.

    ``now`` gives the corrected clock (unix seconds). ``timeout_s`` bounds the wait for each answer's
    headers, each read of its body, and the whole body of a JSON answer; ``max_answer_bytes`` bounds a JSON
    answer once un-gzipped (beyond it: :class:`TransientError`, nothing of it is used).
    """

    def __init__(
        self,
        url: str,
        gateway_id: str,
        secret: str,
        *,
        now: Callable[[], float],
        timeout_s: float = 60.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ):
        self.base = url.rstrip("/")
        self._prefix = urlsplit(self.base).path  # a central behind a path prefix signs the full path
        self.gateway_id = gateway_id
        self.secret = secret
        self.now = now
        self.timeout_s = timeout_s
        self.timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=timeout_s)
        self.max_answer_bytes = max_answer_bytes
        # urllib3 itself, not requests on top of it (7 MB more in the sync process's memory, for nothing)
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=2, retries=False)
        self.body_bytes = 0  # request body bytes sent (what the bench counts as "on the wire")

    def close(self) -> None:
        self.pool.clear()

    def __enter__(self) -> CentralLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        signed: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; return the response if it is a success (2xx), else raise the matching error.

        The response's body is not read yet (read it with :func:`read_bounded`, or with ``read1`` and bounds
        of your own, then :func:`release` it); a refusal's body is read to :data:`MAX_ERROR_BYTES` at most.
        """
        sent = {"Accept-Encoding": "gzip", **(headers or {})}  # gzip: we inflate it ourselves, bounded
        if signed:
            sent.update(
                protocol.signed_headers(
                    self.gateway_id, self.secret, method, self._prefix + target, body, self.now()
                )
            )
        try:
            response = self.pool.request(
                method,
                self.base + target,
                body=body or None,
                headers=sent,
                timeout=self.timeout,
                preload_content=False,  # never read a body whole: we read it with bounds
                decode_content=False,
                redirect=False,
                retries=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise UnreachableError(f"cannot reach the central at {self.base}: {_short(err)}") from err
        self.body_bytes += len(body)
        if not 200 <= response.status < 300:
            try:
                raise classify(response, self.base + target, _error_body(response, self.timeout_s))
            finally:
                release(response, complete=False)
        return response

    def get_json(
        self, target: str, *, signed: bool = True, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.request("GET", target, headers=headers, signed=signed)
        return self._json_object(response, f"GET {target.partition('?')[0]}")

    def post_json(self, target: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        response = self.request("POST", target, body, headers)
        return self._json_object(response, f"POST {target}")

    def _json_object(self, response: urllib3.BaseHTTPResponse, what: str) -> dict[str, Any]:
        body = read_bounded(
            response, self.max_answer_bytes, self.timeout_s, f"the central's answer to {what}"
        )
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise TransientError(f"the central's answer to {what} is not JSON: {_short(err)}") from err
        if not isinstance(payload, dict):
            raise TransientError(f"the central's answer to {what} is not a JSON object")
        return payload


def read_bounded(response: urllib3.BaseHTTPResponse, max_bytes: int, max_seconds: float, what: str) -> bytes:
    """The body of ``response`` with its Content-Encoding undone, read in chunks; the response is released
    (its connection kept for the next request when the body was read to its end, else closed).

    ``max_bytes`` bounds the body once inflated and ``max_seconds`` the time its bytes take to arrive (a read
    that blocks is bounded by the socket timeout on top). ``what`` names the answer in the errors. Raises
    :class:`TransientError` for a body that is too large, too slow, cut, or in an encoding we do not inflate;
    at most ``max_bytes + 1`` bytes are ever held inflated.
    """
    complete = False
    try:
        body = _read_bounded(response, max_bytes, max_seconds, what)
        complete = True
        return body
    finally:
        release(response, complete)


def release(response: urllib3.BaseHTTPResponse, complete: bool) -> None:
    """Give ``response``'s connection back: kept alive for the next request when its body was read to the end
    (``complete``), closed otherwise (what is left of the body must never be read as the next answer)."""
    if not complete:
        response.close()
    response.release_conn()


def _read_bounded(response: urllib3.BaseHTTPResponse, max_bytes: int, max_seconds: float, what: str) -> bytes:
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ENCODINGS:
        raise TransientError(f"{what} is encoded as {encoding!r}, which the gateway does not accept")
    too_large = TransientError(
        f"{what} is larger than {_size(max_bytes)} once unpacked: refused (a captive portal or a faulty "
        "proxy between the gateway and the central can cause this)"
    )
    declared = response.headers.get("Content-Length", "")
    if encoding == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    inflater = _Inflater(encoding)
    deadline = time.monotonic() + max_seconds
    out = bytearray()
    received = 0
    try:
        while chunk := response.read1(CHUNK, decode_content=False):
            received += len(chunk)
            inflater.feed(chunk, out, max_bytes - len(out) + 1)
            if len(out) > max_bytes:
                raise too_large
            if time.monotonic() > deadline:
                raise TransientError(
                    f"{what} took longer than {max_seconds:.0f} s to arrive ({received} bytes by then): "
                    "stopped (a very slow or stalled link)"
                )
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise TransientError(f"{what} was cut after {received} bytes: {_short(err)}") from err
    except zlib.error as err:
        raise TransientError(f"{what} is not valid {encoding}: {err}") from err
    if not inflater.complete:
        raise TransientError(f"{what} was cut after {received} bytes ({encoding} body incomplete)")
    return bytes(out)


class _Inflater:
    """Undoes one Content-Encoding chunk by chunk, never producing more than it is allowed to."""

    def __init__(self, encoding: str):
        self.identity = encoding == "identity"
        # gzip: a gzip header; deflate: the zlib header most servers send (or gzip, detected)
        self.wbits = 31 if encoding in ("gzip", "x-gzip") else 47
        self.inflater = zlib.decompressobj(wbits=self.wbits)

    @property
    def complete(self) -> bool:
        return self.identity or self.inflater.eof

    def feed(self, chunk: bytes, out: bytearray, room: int) -> None:
        """Inflate ``chunk`` into ``out``, at most ``room`` bytes (more input than that is dropped)."""
        if self.identity:
            out += chunk[:room]
            return
        while chunk and room > 0:
            if self.inflater.eof:  # a second gzip member follows the first
                chunk = self.inflater.unused_data + chunk
                self.inflater = zlib.decompressobj(wbits=self.wbits)
            data = self.inflater.decompress(chunk, room)
            out += data
            room -= len(data)
            chunk = self.inflater.unconsumed_tail
            if self.inflater.eof and self.inflater.unused_data:
                chunk = self.inflater.unused_data + chunk
                self.inflater = zlib.decompressobj(wbits=self.wbits)


def _error_body(response: urllib3.BaseHTTPResponse, max_seconds: float) -> bytes:
    """A refusal's body, bounded; empty when it is too large, too slow or unreadable (the status decides)."""
    try:
        return _read_bounded(response, MAX_ERROR_BYTES, max_seconds, "the central's refusal")
    except TransientError:
        return b""


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 and not count % (1 << 20) else f"{count} bytes"


def classify(response: urllib3.BaseHTTPResponse, url: str, body: bytes = b"") -> Exception:
    """The client's error for a response that is not a success (``body``: its body, already read)."""
    status = response.status
    payload = _error_payload(body)
    message = str(payload.get("error") or response.reason or status)
    if status == 401:
        if "skew" in message:
            server_time = payload.get("server_time")
            return ClockSkewRefused(
                f"the central refused our clock ({message})",
                float(server_time) if isinstance(server_time, int | float) else None,
            )
        return CredentialError(CREDENTIALS_HINT)
    if status in (400, 413, 422):
        rejected = payload.get("rejected")
        return RejectedError(
            f"the central refused the request ({status}: {message})",
            status,
            rejected if isinstance(rejected, list) else None,
        )
    retry_after = retry_after_s(response.headers.get("Retry-After"))
    if status in (404, 405):
        return TransientError(f"{url} answered {status}: check [central] url", retry_after, status)
    if status == 503 and isinstance(payload.get("reason"), str):
        reason = payload["reason"]
        words = UNAVAILABLE_WORDS.get(reason, f"the central is unavailable ({reason[:80]})")
        later = f"; it asked to try again in {retry_after:.0f} s" if retry_after is not None else ""
        return TransientError(f"{words}{later}", retry_after, status)
    return TransientError(f"the central answered {status} ({message})", retry_after, status)


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds (it may be a number of seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from time import time

        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def _error_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _short(err: BaseException) -> str:
    """The innermost reason of an HTTP error, without urllib3's object reprs."""
    reason: BaseException = err
    while reason.__context__ is not None and len(str(reason.__context__)) < len(str(reason)):
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    return text if len(text) < 200 else text[:197] + "..."
