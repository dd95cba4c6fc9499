"""Relay the kiosk's status lookups to the central (``POST /api/v1/status-lookup``).

The kiosk writes a lookup into the store (:mod:`gateway.store.lookups`) when a citizen checks a number this
gateway does not hold; :class:`LookupRelay` (a thread of ``anjungan sync run``) sends it, signed, and writes
the central's answer back. When the central cannot be reached the answer is ``{"error": "offline"}``, and the
kiosk says so. While it runs it keeps a heartbeat in meta, so that the kiosk does not wait for a relay that is
not there (the sync process stopped).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gateway.store import Store
from sync import protocol
from sync.client.errors import SyncError
from sync.client.transport import CentralLink

log = logging.getLogger(__name__)
POLL_S = 0.2


def status_lookup(central: CentralLink, number: str, code: str | None) -> dict[str, Any]:
    """The central's answer about ``number`` (see docs/protocol.md, "Status lookups"); raises SyncError."""
    body = protocol.encode_status_lookup(number, code)
    target = protocol.STATUS_LOOKUP_PATH
    return central.post_json(target, body, {"Content-Type": protocol.CONTENT_TYPE})


class LookupRelay:
    """Answers the store's pending lookups until ``stop`` is set; :meth:`relay_pending` does one pass."""

    def __init__(self, store: Store, central: CentralLink, stop: threading.Event):
        self.store = store
        self.central = central
        self.stop = stop

    def relay_pending(self) -> int:
        """Send every pending lookup and record its answer; returns how many were answered."""
        done = 0
        for item in self.store.pending_status_lookups():
            try:
                result = status_lookup(self.central, item["number"], item["code"])
            except SyncError as err:
                log.warning("status lookup not relayed: %s", err)
                result = {"error": "offline"}
            self.store.answer_status_lookup(item["id"], result)
            done += 1
        return done

    def run(self) -> None:
        """Poll the store for lookups every :data:`POLL_S` seconds until stopped, holding the relay's lock
        meanwhile (the kiosk waits for relayed answers only while it is held)."""
        held = self.store.hold_lookup_relay()
        try:
            while not self.stop.is_set():
                try:
                    self.relay_pending()
                except Exception:  # the store may be briefly busy: keep relaying, say what happened
                    log.exception("status lookup relay")
                self.stop.wait(POLL_S)
        finally:
            self.store.release_lookup_relay(held)
