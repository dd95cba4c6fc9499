"""The central's errors: what it was asked cannot be done, some records of a batch cannot be stored, or it
cannot do it now. The app's handlers (sync/central/app.py) answer them."""

from __future__ import annotations

from typing import Any

from gateway.errors import AnjunganError


class CentralError(AnjunganError):
    """Something the central was asked to do cannot be done; the message says why."""


class RecordsRejected(CentralError):
    """Some records of a batch cannot be stored; nothing of the batch was stored (answered with 422)."""

    def __init__(self, stream: str, rejected: list[dict[str, Any]]):
        super().__init__(f"{len(rejected)} record(s) of {stream} rejected")
        self.stream = stream
        self.rejected = rejected


class Unavailable(AnjunganError):
    """The central cannot do it now (answered 503 with Retry-After); ``reason`` is one of ``db.BUSY``,
    ``db.DISK_FULL``, ``db.UNAVAILABLE``: a word the gateway shows as it is."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
