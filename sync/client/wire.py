"""The protocol module the client uses: ``sync.protocol`` (shared with the central)."""

from __future__ import annotations

try:
    from sync import protocol  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # not on this branch yet
    from sync.client import _fallback_protocol as protocol  # type: ignore[no-redef]

__all__ = ["protocol"]
