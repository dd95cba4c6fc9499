"""HTTP to the central: every request signed, every failure classified in one place.

:class:`Central` turns what the central (or the network) answers into the client's errors
(:mod:`sync.client.errors`); the callers decide what to do about each kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

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


class Central:
    """The central's sync API for one gateway. ``now`` gives the corrected clock (unix seconds)."""

    def __init__(
        self,
        url: str,
        gateway_id: str,
        secret: str,
        *,
        now: Callable[[], float],
        timeout_s: float = 60.0,
    ):
        self.base = url.rstrip("/")
        self._prefix = urlsplit(self.base).path  # a central behind a path prefix signs the full path
        self.gateway_id = gateway_id
        self.secret = secret
        self.now = now
        self.timeout = (CONNECT_TIMEOUT_S, timeout_s)
        self.session = requests.Session()
        self.body_bytes = 0  # request body bytes sent (what the bench counts as "on the wire")

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Central:
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
        stream: bool = False,
    ) -> requests.Response:
        """Send one request; return the response if it is a success (2xx), else raise the matching error."""
        sent = dict(headers or {})
        if signed:
            sent.update(
                protocol.signed_headers(
                    self.gateway_id, self.secret, method, self._prefix + target, body, self.now()
                )
            )
        try:
            response = self.session.request(
                method,
                self.base + target,
                data=body or None,
                headers=sent,
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            raise UnreachableError(f"cannot reach the central at {self.base}: {_short(err)}") from err
        self.body_bytes += len(body)
        if not 200 <= response.status_code < 300:
            try:
                raise classify(response, self.base + target)
            finally:
                response.close()
        return response

    def get_json(
        self, target: str, *, signed: bool = True, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.request("GET", target, headers=headers, signed=signed)
        return _json_object(response)

    def post_json(self, target: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        response = self.request("POST", target, body, headers)
        return _json_object(response)


def classify(response: requests.Response, url: str) -> Exception:
    """The client's error for a response that is not a success."""
    status = response.status_code
    payload = _error_payload(response)
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


def _error_payload(response: requests.Response) -> dict[str, Any]:
    try:
        payload = json.loads(response.content or b"{}")
    except (ValueError, requests.RequestException):
        return {}
    return payload if isinstance(payload, dict) else {}


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except (ValueError, requests.RequestException) as err:
        raise TransientError(f"the central's answer is not JSON: {_short(err)}") from err
    if not isinstance(payload, dict):
        raise TransientError("the central's answer is not a JSON object")
    return payload


def _short(err: BaseException) -> str:
    """The innermost reason of a requests error, without urllib3's object reprs."""
    reason: BaseException = err
    while reason.__context__ is not None and len(str(reason.__context__)) < len(str(reason)):
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    return text if len(text) < 200 else text[:197] + "..."
