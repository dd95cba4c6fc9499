"""A tiny WSGI cache of public pages, so that a busy kiosk answers the home, DIP and conditions pages cheaply.

A view opts in by setting the ``X-Kiosk-Cache: public`` header (removed before sending); such a view must not
touch the session or set cookies. Entries are keyed by path, query and the ``lang`` cookie and live for a few
seconds (alerts still show within seconds: every page also polls the banner).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any

MARKER = "X-Kiosk-Cache"
_MAX_ENTRIES = 512
_NEVER = ("/static/", "/dokumen/", "/kondisi/grafik/", "/operator", "/api/")

Entry = tuple[float, str, list[tuple[str, str]], bytes]


def _lang(environ: dict[str, Any]) -> str:
    raw = environ.get("HTTP_COOKIE", "")
    if "lang=" not in raw:
        return ""
    try:
        morsel = SimpleCookie(raw).get("lang")
    except Exception:  # a malformed cookie header is just not a language
        return ""
    return morsel.value if morsel is not None else ""


class PageCache:
    def __init__(self, app: Callable[..., Iterable[bytes]], ttl: Callable[[], float]):
        self.app = app
        self.ttl = ttl
        self._entries: dict[tuple[str, str, str], Entry] = {}
        self._lock = threading.Lock()
        self._refreshing: set[tuple[str, str, str]] = set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        ttl = self.ttl()
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or ttl <= 0 or path.startswith(_NEVER):
            return self._passthrough(environ, start_response)
        key = (path, environ.get("QUERY_STRING", ""), _lang(environ))
        now = time.monotonic()
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
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = (time.monotonic() + ttl, status, headers, body)
        start_response(status, headers)
        return [body]

    def _passthrough(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def strip(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [(n, v) for n, v in headers if n != MARKER], exc_info)

        return self.app(environ, strip)
