"""The gateway's sync client: uplink of the store's outbox, downlink of the central's changes and files.

Modules by concern: :mod:`~sync.client.transport` (signed HTTP, failures classified), :mod:`~.uplink`,
:mod:`~.downlink`, :mod:`~.clock`, :mod:`~.status`, and :mod:`~.service` (a round and the loop; its pauses
after a failure are :class:`gateway.backoff.Backoff`'s). See docs/sync.md.
"""

from sync.client.errors import (
    ClockSkewRefused,
    CredentialError,
    NotConfigured,
    RejectedError,
    SyncError,
    TransientError,
)
from sync.client.service import RoundResult, Settings, SyncClient

__all__ = [
    "ClockSkewRefused",
    "CredentialError",
    "NotConfigured",
    "RejectedError",
    "RoundResult",
    "Settings",
    "SyncClient",
    "SyncError",
    "TransientError",
]
