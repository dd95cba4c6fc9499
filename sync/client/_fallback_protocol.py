"""A stand-in for ``sync.protocol`` (the fixed API) used only while that module is not on this branch.

Row JSON + gzip only (no columnar form); signatures as DESIGN.md's contract says. Delete once
``sync.protocol`` exists.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from gateway.errors import AnjunganError

API_PREFIX = "/api/v1"
HEADER_GATEWAY = "X-Anjungan-Gateway"
HEADER_TIMESTAMP = "X-Anjungan-Timestamp"
HEADER_SIGNATURE = "X-Anjungan-Signature"
MAX_SKEW_S = 300
STREAMS = ("submissions", "events", "readings")


class ProtocolError(AnjunganError):
    pass


class SignatureError(AnjunganError):
    pass


class SkewError(SignatureError):
    def __init__(self, message: str, server_time: float):
        super().__init__(message)
        self.server_time = server_time


def sign(secret: str, timestamp: int | str, method: str, target: str, body: bytes) -> str:
    head = f"{timestamp}\n{method.upper()}\n{target}\n".encode()
    return hmac.new(secret.encode(), head + body, hashlib.sha256).hexdigest()


def signed_headers(
    gateway_id: str, secret: str, method: str, target: str, body: bytes, now: float
) -> dict[str, str]:
    ts = int(now)
    return {
        HEADER_GATEWAY: gateway_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign(secret, ts, method, target, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], method: str, target: str, body: bytes, now: float
) -> None:
    try:
        ts = int(headers[HEADER_TIMESTAMP])
        given = headers[HEADER_SIGNATURE]
    except (KeyError, ValueError) as err:
        raise SignatureError("bad signature") from err
    if not hmac.compare_digest(sign(secret, ts, method, target, body), given):
        raise SignatureError("bad signature")
    if abs(now - ts) > MAX_SKEW_S:
        raise SkewError("clock skew", now)


def encode_batch(
    stream: str,
    records: list[dict[str, Any]],
    *,
    after: int | None = None,
    columnar: bool | None = None,
    compress: bool = True,
) -> tuple[bytes, dict[str, str]]:
    doc: dict[str, Any] = {"stream": stream, "records": records}
    if after is not None:
        doc["after"] = after
    body = json.dumps(doc, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if compress:
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return body, headers
