"""The one error hierarchy of anjungan.

Every error the project raises on purpose derives from :class:`AnjunganError`; the edges translate it (the CLI
prints its message as one line and exits 1, a view answers an HTTP status: the one its class names).
"""

from __future__ import annotations

from typing import Any


class AnjunganError(Exception):
    """Base of every error anjungan raises on purpose. Its message is meant for people.

    How an HTTP API answers it is said by its class, in one place: ``status`` (the HTTP status) and ``error``
    (the stable word of a JSON answer's ``"error"`` field, docs/protocol.md), and :meth:`fields` (what the
    answer carries beside the word). An error whose class names no status is a fault of ours, answered 500.
    The sync client's errors (sync/client/errors.py), made of an answer the gateway received, hold that
    answer's status in ``status`` instead (None when no answer came).
    """

    status: int | None = None
    error: str | None = None

    def fields(self) -> dict[str, Any]:
        """What a JSON answer says of this error beside its word: ``{"detail": message}``."""
        return {"detail": str(self)}


class ConfigError(AnjunganError):
    """The configuration file or an ANJUNGAN_* variable is wrong (unknown key, bad value, unreadable file)."""


class StoreError(AnjunganError):
    """The store cannot do what was asked."""


class StoreMissingError(StoreError):
    """There is no store where the configuration says (a read-only command never creates one)."""


class StoreNeedsUpgradeError(StoreError):
    """The store is older than this release; only ``anjungan upgrade`` migrates it (after a backup)."""


class StoreFullError(StoreError):
    """The disk (or the store's size budget) is full: nothing new can be saved, nothing stored is damaged."""


class StoreRefusedError(StoreError):
    """Records the store can never hold (e.g. text that is not valid Unicode, a number beyond SQLite's range).

    Raised through the Future of a :meth:`~gateway.store.writer.ReadingWriter.submit` whose frames were written
    except the refused ones: ``saved`` counts the new frames of that submission that were committed, ``refused``
    names each refused frame with the reason. The refused frames are kept in their node's console log and
    counted as bad lines; sending them again changes nothing, so a reader acknowledges them (MQTT PUBACK).
    """

    def __init__(self, message: str, *, saved: int = 0, refused: tuple[str, ...] = ()):
        super().__init__(message)
        self.saved = saved
        self.refused = refused


class FrameError(AnjunganError):
    """A line is not a valid node frame; the message says why."""


class NotYetAvailable(AnjunganError):
    """A command whose capability is not built yet."""
