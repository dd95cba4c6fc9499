"""A tiny WSGI cache of public pages, so that a busy kiosk answers the home, DIP and conditions pages cheaply.

A view opts in by setting the ``X-Kiosk-Cache: public`` header (removed before sending); such a view must not
touch the session or set cookies. Entries are keyed by path, query and the page's *variant*: a function of the
request that the app gives, computed from exactly the values the app renders with (the kiosk passes the
language it will render in, resolved from the ``lang`` cookie by werkzeug's parser, the one ``request.cookies``
uses). So no cookie header, however malformed or repeated, can make a page of one language land in the slot
of another. The cache never answers an exception of its own with anything but the app's page: a variant that
fails is logged and the request goes to the app uncached (its error handlers make every error a kiosk page).

Entries are fresh for a few seconds (alerts still show within seconds: every page also polls the banner). An
entry past that is rendered again by one thread while the others are answered with it (no thundering herd on a
busy store), for at most :data:`STALE_S` more seconds; then it is forgotten. The entries live in a cachetools
``TLRUCache`` (per-entry expiry, at most :data:`_MAX_ENTRIES`), used under one lock (cachetools' caches are not
thread-safe, and waitress serves from several threads).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cachetools import TLRUCache

log = logging.getLogger(__name__)
MARKER = "X-Kiosk-Cache"
_MAX_ENTRIES = 512
STALE_S = 30.0  # how long after its freshness an entry may still answer while another thread renders it again
_NEVER = ("/static/", "/dokumen/", "/kondisi/grafik/", "/operator", "/api/")

Entry = tuple[float, str, list[tuple[str, str]], bytes]
Variant = Callable[[dict[str, Any]], str]


def _no_variant(_environ: dict[str, Any]) -> str:
    return ""


def _forgotten_at(_key: tuple[str, str, str], entry: Entry, _now: float) -> float:
    """When the cache drops ``entry`` (monotonic s): :data:`STALE_S` after it stopped being fresh."""
    return entry[0] + STALE_S


class PageCache:
    """Wrap WSGI ``app``; ``ttl()`` gives the seconds an entry lives (0 = off); ``variant(environ)`` the part of
    the key that comes from the request beyond its path and query (it must never raise)."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], ttl: Callable[[], float], variant: Variant = _no_variant
    ):
        self.app = app
        self.ttl = ttl
        self.variant = variant
        self._entries: TLRUCache[tuple[str, str, str], Entry, float] = TLRUCache(
            _MAX_ENTRIES, _forgotten_at, time.monotonic
        )
        self._lock = threading.Lock()  # around every use of _entries and _refreshing
        self._refreshing: set[tuple[str, str, str]] = set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        ttl = self.ttl()
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or ttl <= 0 or path.startswith(_NEVER):
            return self._passthrough(environ, start_response)
        try:
            key = (path, environ.get("QUERY_STRING", ""), self.variant(environ))
        except Exception:  # never a server's plain 500: the app answers (its own error pages), uncached
            log.exception("page cache: no key for %s; answered uncached", path)
            return self._passthrough(environ, start_response)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        claimed = False
        if entry is not None:
            if entry[0] > now or not self._claim(key):
                # fresh, or another thread is already rendering it: serve what we have (stale by < one render)
                _expires, status, headers, body = entry
                start_response(status, headers)
                return [body]
            claimed = True
        try:
            return self._render(key, environ, start_response, ttl)
        finally:
            if claimed:
                with self._lock:
                    self._refreshing.discard(key)

    def _claim(self, key: tuple[str, str, str]) -> bool:
        """True when this thread may re-render ``key`` (one thread at a time: no thundering herd)."""
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def _render(
        self,
        key: tuple[str, str, str],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        ttl: float,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response  # never used by Flask (it returns an iterable)

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = captured["status"], captured["headers"]
        cacheable = any(name == MARKER for name, _ in headers)
        headers = [(name, value) for name, value in headers if name != MARKER]
        if cacheable and status.startswith("200") and not any(n.lower() == "set-cookie" for n, _ in headers):
            with self._lock:
                self._entries[key] = (time.monotonic() + ttl, status, headers, body)
        start_response(status, headers)
        return [body]

    def _passthrough(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def strip(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [(n, v) for n, v in headers if n != MARKER], exc_info)

        return self.app(environ, strip)
