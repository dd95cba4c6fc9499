"""The gateway's store: one SQLite file (WAL) shared by the ingest, the kiosk and the sync processes.

- Readings and node state are written by ONE :class:`~gateway.store.writer.ReadingWriter` per file (group
  commit, acknowledged after commit).
- Citizens' submissions are written on their own connection with ``synchronous=FULL``: a receipt number
  means saved, even through a power cut.
- The sync side reads a batch of a stream after its acknowledged seq (a short read transaction, ended before
  any network call), then marks the stream acknowledged through a seq.
- The kiosk's pages read on a read-only connection (:attr:`Store.reader`).

:class:`Store` is the one face of it: its methods live in one module per concern, each a mixin over
:class:`~gateway.store.base.StoreBase` (connections, meta, the clock offset). Nothing outside gateway/store/
runs SQL on the store's tables (tests/test_architecture.py checks it). See docs/architecture.md for the
tables and who writes what.
"""

from __future__ import annotations

from gateway.store.content import ContentMixin
from gateway.store.deadletters import DeadLettersMixin
from gateway.store.events import EventsMixin
from gateway.store.files import FilesMixin
from gateway.store.health import HealthMixin
from gateway.store.kiosk import KioskMixin
from gateway.store.lookups import LookupsMixin
from gateway.store.nodes import NodesMixin
from gateway.store.outbox import OutboxMixin
from gateway.store.ratings import RatingsMixin
from gateway.store.readings import ReadingsMixin
from gateway.store.rows import iso_utc
from gateway.store.submissions import SubmissionsMixin
from gateway.store.writer import ReadingWriter
from gateway.vocabulary import STREAMS

__all__ = ["Store", "ReadingWriter", "STREAMS", "iso_utc"]


class Store(
    ReadingsMixin,
    EventsMixin,
    SubmissionsMixin,
    RatingsMixin,
    OutboxMixin,
    DeadLettersMixin,
    ContentMixin,
    FilesMixin,
    HealthMixin,
    NodesMixin,
    LookupsMixin,
    KioskMixin,
):
    """The store (see the module's docstring); open with :meth:`open` or :meth:`open_existing`, close with
    :meth:`close` (or use it as a context manager). Each concern's methods are documented in its module:
    :mod:`~gateway.store.readings`, :mod:`~gateway.store.events`, :mod:`~gateway.store.submissions`,
    :mod:`~gateway.store.ratings`, :mod:`~gateway.store.outbox`, :mod:`~gateway.store.deadletters`,
    :mod:`~gateway.store.content`,
    :mod:`~gateway.store.files`, :mod:`~gateway.store.health`, :mod:`~gateway.store.nodes`,
    :mod:`~gateway.store.lookups`, :mod:`~gateway.store.kiosk`."""
