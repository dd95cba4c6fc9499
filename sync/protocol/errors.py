"""The protocol's errors, each with the HTTP status the central answers it with (docs/protocol.md, "Errors
(Python)"; the 401 answers of "Signing"). All derive from :class:`gateway.errors.AnjunganError`.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import AnjunganError


class ProtocolError(AnjunganError):
    """A malformed batch or request body (answered with 400)."""

    status = 400


class BodyTooLargeError(ProtocolError):
    """A request body that is, or inflates to, more than the receiver accepts (answered with 413)."""

    status = 413


class SignatureError(AnjunganError):
    """A missing or wrong request signature (answered with 401, error ``bad signature``)."""

    status = 401
    error = "bad signature"


class SkewError(SignatureError):
    """A correctly signed request whose timestamp is more than :data:`~sync.protocol.signing.MAX_SKEW_S` off the receiver's clock."""

    error = "clock skew"

    def __init__(self, message: str, server_time: int):
        super().__init__(message)
        self.server_time = server_time

    def fields(self) -> dict[str, Any]:
        """``{"detail", "server_time"}``: the message and the receiver's clock (ms since the epoch), for the
        sender to learn its offset from (docs/protocol.md, "Signing")."""
        return {"detail": str(self), "server_time": self.server_time}
