"""The client's errors, by what the caller does about them (rule 6 of the sync notes).

- :class:`TransientError`: the network (:class:`UnreachableError`), a 5xx, a 429 — retry later with backoff
  (``retry_after`` if the central asked for a delay; a 503 carries the central's reason in plain words).
- :class:`CredentialError`: the central refused our signature — a person must fix the configuration.
- :class:`ClockSkewRefused`: the central refused our timestamp; it carries the central's time.
- :class:`RejectedError`: the central refused records of a batch (422 with ``rejected``) or the request as a
  whole (another 4xx); nothing of the batch was stored.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import AnjunganError


class SyncError(AnjunganError):
    """Base of the sync client's errors."""


class NotConfigured(SyncError):
    """No central configured (``[central] url`` empty) or no credentials."""


class TransientError(SyncError):
    """``status``: the HTTP status that caused it (None for a network error)."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class UnreachableError(TransientError):
    """The central could not be reached at all (connection refused, timeout, DNS): no answer came."""


class CredentialError(SyncError):
    """The central refused who we say we are (401): wrong id or secret, a rotated secret, a removed gateway."""


class ClockSkewRefused(SyncError):
    def __init__(self, message: str, server_time: float | None):
        super().__init__(message)
        self.server_time = server_time


class RejectedError(SyncError):
    def __init__(self, message: str, status: int, rejected: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.rejected = rejected or []
