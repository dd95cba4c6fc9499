"""Signing a request and checking its signature and clock (docs/protocol.md, "Signing"; DESIGN.md, "Contract:
the sync API": ``X-Anjungan-Signature`` is the lowercase hex HMAC-SHA256 of ``"<timestamp>\\n<METHOD>\\n<target>\\n"``
+ body, keyed with the gateway's secret; a timestamp more than :data:`MAX_SKEW_S` off is refused).

Owns the three signing headers, the skew bound and the case-insensitive header lookup every part of the protocol
uses. The test vectors are tests/vectors/signatures.json.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping

from sync.protocol.errors import SignatureError, SkewError

HEADER_GATEWAY = "X-Anjungan-Gateway"
HEADER_TIMESTAMP = "X-Anjungan-Timestamp"
HEADER_SIGNATURE = "X-Anjungan-Signature"
MAX_SKEW_S = 300


def sign(secret: str, timestamp: int, method: str, target: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``"<timestamp>\\n<METHOD>\\n<target>\\n" + body`` keyed with the secret."""
    mac = signer(secret, timestamp, method, target)
    mac.update(body)
    return mac.hexdigest()


def signer(secret: str, timestamp: int, method: str, target: str) -> hmac.HMAC:
    """The HMAC of :func:`sign` before the body: feed it the body piece by piece with ``update`` (a receiver
    that checks a signature while the body arrives need not hold the body in memory)."""
    return hmac.new(
        secret.encode(), f"{int(timestamp)}\n{method.upper()}\n{target}\n".encode(), hashlib.sha256
    )


def signed_headers(
    gateway_id: str, secret: str, method: str, target: str, body: bytes, now: float
) -> dict[str, str]:
    """The three headers that sign one request made at ``now`` (unix seconds)."""
    timestamp = int(math.floor(now))
    return {
        HEADER_GATEWAY: gateway_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, method, target, body),
    }


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value from any mapping, looked up case-insensitively."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def verify(
    secret: str, headers: Mapping[str, str], method: str, target: str, body: bytes, now: float
) -> None:
    """Check a request's signature, then its timestamp; raise :class:`SignatureError` or :class:`SkewError`.

    The signature is checked first, so only a correctly signed request learns that its clock is off.
    """
    stamp = header(headers, HEADER_TIMESTAMP)
    given = header(headers, HEADER_SIGNATURE)
    if stamp is None or given is None:
        raise SignatureError("the request is not signed")
    if not re.fullmatch(r"-?[0-9]{1,15}", stamp.strip()):
        raise SignatureError("the timestamp is not whole unix seconds")
    timestamp = int(stamp)
    expected = sign(secret, timestamp, method, target, body)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace")):
        raise SignatureError("the signature does not match")
    if abs(now - timestamp) > MAX_SKEW_S:
        raise SkewError(f"the timestamp is {int(timestamp - now)} s off the central's clock", int(now))
