"""The client's errors, by what the caller does about them (rule 6 of the sync notes).

- :class:`TransientError`: the network, a 5xx, a 429 — retry later with backoff (``retry_after`` if the
  central asked for a delay).
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
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class CredentialError(SyncError):
    pass


class ClockSkewRefused(SyncError):
    def __init__(self, message: str, server_time: float | None):
        super().__init__(message)
        self.server_time = server_time


class RejectedError(SyncError):
    def __init__(self, message: str, status: int, rejected: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.rejected = rejected or []
