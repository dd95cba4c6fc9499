"""The kiosk's sessions live in the server's memory; the browser's ``anjungan`` cookie holds only a random id.

What a citizen's session holds is private: a submission's status code in the clear until ``/selesai``, the
receipts' numbers, the survey's grants next to the keys of the ratings sent (which would link an anonymous
rating to a submission). Flask's default session would put all of it, signed but readable, into the cookie.
Here Flask-Session's cachelib interface keeps it in a cachelib ``SimpleCache`` inside the one waitress process
of ``anjungan kiosk``: nothing is ever written to the SD card, and a restart forgets every session.

- The cookie's value is ``secrets.token_urlsafe(32)`` (43 characters, 256 random bits), set only when the
  session changes (``SESSION_PERMANENT`` is off: a browser-session cookie, as before). A cookie naming no
  stored session opens a new, empty one under a fresh id: no client chooses its id.
- A session lives :func:`lifetime` seconds after its last request (the idle reset's ``idle_seconds`` +
  ``idle_warning_seconds`` + :data:`MARGIN_S`): every page polls the alert banner every few seconds, so an open
  page keeps its session; a browser gone away without the idle reset loses it soon after. Expired sessions
  are dropped from memory at the next request of any client (the home screen polls the banner too), not
  only when the bound is reached.
- At most ``KIOSK_SESSIONS_MAX`` sessions are kept; past that the ones closest to expiry (the least recently
  used) go first.
- ``/selesai`` (``session.clear()``, the idle reset) deletes the stored session and the cookie.
- A request that did not change its session never writes it back (its copy may be stale: a slow reading
  aloud still running after ``/selesai`` must not bring the cleared session back); it only renews the stored
  session's expiry, under a lock shared with every store and delete.
- :func:`new_id` gives a session a new id (the operator's login), so that a copy of the cookie taken before the
  login is worth nothing after it.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from cachelib import SimpleCache
from cachetools import TTLCache
from flask import Flask, current_app
from flask_session.cachelib import CacheLibSessionInterface

MARGIN_S = 60  # a session outlives the idle reset by this much (seconds)


class SessionStore(SimpleCache):
    """cachelib's in-memory cache that also drops expired entries whenever one is stored (cachelib alone drops
    them only once ``threshold`` entries are held), so a session's data leaves memory soon after it expires,
    and that holds ``threshold`` entries at most (cachelib makes room only past it: one more)."""

    def _over_threshold(self) -> bool:
        return len(self._cache) >= self._threshold  # room is made *before* an entry is stored

    def _prune(self) -> None:
        self._remove_expired(time.time())
        super()._prune()

    def sweep(self) -> None:
        """Drop the expired sessions from memory now (every request does: the home screen polls the banner)."""
        with self._lock:
            self._remove_expired(time.time())

    def sessions(self) -> int:
        """How many sessions are held now (expired ones not yet dropped included)."""
        with self._lock:
            return len(self._cache)


class KioskSessionInterface(CacheLibSessionInterface):
    """Flask-Session's cachelib interface that writes a session only when the request changed it, and renews
    the expiry of an unchanged one (see the module's text)."""

    def __init__(self, app: Flask, store: SessionStore):
        """``store``: where the sessions live; the cookie is a browser-session cookie holding the id only."""
        super().__init__(app, client=store, key_prefix="s:", permanent=False, sid_length=32)
        self.store = store
        self._lock = threading.Lock()  # one store, delete or renewal of a session at a time
        # sessions ended (/selesai, the idle reset, a new id at login): a request that was still running then
        # must not write its copy back, status codes and all (kept as long as such a request could run)
        self._ended: TTLCache[str, bool] = TTLCache(maxsize=4 * int(app.config["KIOSK_SESSIONS_MAX"]),
                                                    ttl=app.permanent_session_lifetime.total_seconds())  # fmt: skip

    def should_set_storage(self, app: Flask, session: Any) -> bool:
        return bool(session.modified)

    def _upsert_session(self, session_lifetime: timedelta, session: Any, store_id: str) -> None:
        with self._lock:
            if store_id in self._ended:
                return  # ended while this request ran: its copy stays ended
            super()._upsert_session(session_lifetime, session, store_id)

    def _delete_session(self, store_id: str) -> None:
        with self._lock:
            self._ended[store_id] = True
            super()._delete_session(store_id)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        self.store.sweep()
        if session and not session.modified:
            store_id = self._get_store_id(session.sid)
            with self._lock:  # renew what is stored now, never this request's copy
                stored = self.store.get(store_id)
                if stored is not None:
                    self.store.set(
                        store_id, stored, timeout=int(app.permanent_session_lifetime.total_seconds())
                    )
        super().save_session(app, session, response)


def lifetime(idle_seconds: int, idle_warning_seconds: int) -> timedelta:
    """How long a session outlives its last request: the idle reset's two delays (seconds) + :data:`MARGIN_S`."""
    return timedelta(seconds=idle_seconds + idle_warning_seconds + MARGIN_S)


def install(app: Flask) -> None:
    """Keep ``app``'s sessions in memory: ``KIOSK_SESSIONS_MAX`` at most, each living :func:`lifetime` of
    ``KIOSK_IDLE_SECONDS`` and ``KIOSK_IDLE_WARNING_SECONDS`` after its last request (set as Flask's
    ``PERMANENT_SESSION_LIFETIME``); the store is ``app.extensions["anjungan_sessions"]``, a :class:`SessionStore`."""
    app.permanent_session_lifetime = lifetime(int(app.config["KIOSK_IDLE_SECONDS"]),
                                              int(app.config["KIOSK_IDLE_WARNING_SECONDS"]))  # fmt: skip
    store = SessionStore(threshold=int(app.config["KIOSK_SESSIONS_MAX"]),
                         default_timeout=int(app.permanent_session_lifetime.total_seconds()))  # fmt: skip
    app.extensions["anjungan_sessions"] = store
    app.session_interface = KioskSessionInterface(app, store)


def new_id(session: Any) -> None:
    """Give ``session`` (the request's, not empty) a new random id; the old id's stored session is deleted."""
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
