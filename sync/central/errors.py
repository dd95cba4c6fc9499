"""The central's errors, and the one place where any error becomes the sync API's JSON answer.

Every error class says how it is answered (:class:`gateway.errors.AnjunganError`): ``status``, the HTTP
status, and ``error``, the stable word of the body's ``"error"`` field (docs/protocol.md). The app's handlers
(sync/central/app.py, sync/central/lookup.py) read them through :func:`answer`, the back office's error pages
through :func:`status_of`; no handler names a status of its own for an error of ours.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from gateway.errors import AnjunganError


class CentralError(AnjunganError):
    """Something the central was asked to do cannot be done; the message says why (400 ``malformed``)."""

    status = 400
    error = "malformed"


class RecordsRejected(CentralError):
    """Some records of a batch cannot be stored; nothing of the batch was stored (422 ``rejected records``,
    with the stream and each refused record's seq and reason instead of a message)."""

    status = 422
    error = "rejected records"

    def __init__(self, stream: str, rejected: list[dict[str, Any]]):
        super().__init__(f"{len(rejected)} record(s) of {stream} rejected")
        self.stream = stream
        self.rejected = rejected

    def fields(self) -> dict[str, Any]:
        """``{"stream", "rejected"}``: the refused records (``[{"seq", "reason"}]``) instead of a message."""
        return {"stream": self.stream, "rejected": self.rejected}


class Unavailable(AnjunganError):
    """The central cannot do it now (503 ``unavailable``, with Retry-After); ``reason`` is one of ``db.BUSY``,
    ``db.DISK_FULL``, ``db.UNAVAILABLE``: a word the gateway shows as it is."""

    status = 503
    error = "unavailable"

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

    def fields(self) -> dict[str, Any]:
        """``{"reason", "detail"}``: the reason in a word, then the message."""
        return {"reason": self.reason, "detail": str(self)}


# The API's word for an error whose class names none, by its status (docs/protocol.md): sync/protocol's
# ProtocolError (400) and BodyTooLargeError (413) carry their status but no word yet, and an error without a
# status is a fault of ours (500 "internal"). Any other status: its HTTP reason phrase in lower case.
WORDS = {400: "malformed", 413: "too large", 500: "internal"}
INTERNAL = 500


def status_of(err: AnjunganError) -> int:
    """The HTTP status ``err`` is answered with: its own (:attr:`AnjunganError.status`), else 500."""
    return err.status or INTERNAL


def answer(err: AnjunganError) -> tuple[dict[str, Any], int]:
    """The sync API's JSON body and HTTP status for ``err`` (docs/protocol.md): ``{"error": word, ...}`` with
    what the error says of itself (:meth:`AnjunganError.fields`: ``detail``, its message, unless the class
    says more or other), and the status from :func:`status_of`."""
    status = status_of(err)
    word = err.error or WORDS.get(status) or HTTPStatus(status).phrase.lower()
    body: dict[str, Any] = {"error": word, **err.fields()}
    return body, status
