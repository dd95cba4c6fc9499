"""The kiosk's rate limits: fixed windows counted in this process's memory, as Flask-Limiter's ``memory://``
storage and its default fixed-window strategy count them, without its cost (Flask-Limiter and ``limits``
bring asyncio and more with them: about 5 MB of the kiosk's RSS, docs/deploy.md).

A limit is written as Flask-Limiter writes it (its ``limits`` syntax): ``"10 per minute"``, ``"10/minute"``,
``"5 per 10 seconds"``, several separated by ``;``, ``,`` or ``|`` (all of them apply). A window of a limit
opens at its first hit and lasts its period; the ``amount``-th hit in it is the last allowed.

:class:`RateLimiter` checks an endpoint's limits before its view (after the app's earlier ``before_request``
handlers, such as the CSRF check) and answers 429 (``TooManyRequests``) when one is spent; every response of a
limited endpoint carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch s) and
``Retry-After`` (s), as Flask-Limiter's ``headers_enabled`` adds them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, abort, g, request

# Seconds of each granularity, as the ``limits`` package counts them (a month 30 days, a year 12 months).
_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86_400,
    "month": 30 * 86_400,
    "year": 360 * 86_400,
}
_ITEM_RE = re.compile(
    r"\s*([0-9]+)\s*(?:/|\s*per\s*)\s*([0-9]+)?\s*(second|minute|hour|day|month|year)s?\s*\Z", re.IGNORECASE
)
_SEPARATORS_RE = re.compile(r"[,;|]")


@dataclass(frozen=True)
class Limit:
    """``amount`` hits per ``period_s`` seconds; ``text`` is how it was written."""

    amount: int
    period_s: int
    text: str


def parse(text: str) -> list[Limit]:
    """The limits of ``text`` (``"10 per minute"``, ``"10/minute;100/hour"``, ``"5 per 10 seconds"``);
    ValueError when a part is not such a limit."""
    out = []
    for part in _SEPARATORS_RE.split(text):
        if not part.strip():
            continue
        match = _ITEM_RE.match(part)
        if match is None:
            raise ValueError(f"not a rate limit: {part.strip()!r}")
        amount, multiple, unit = match.groups()
        out.append(Limit(int(amount), int(multiple or 1) * _SECONDS[unit.lower()], part.strip()))
    if not out:
        raise ValueError(f"no rate limit in {text!r}")
    return out


@dataclass(frozen=True)
class Rule:
    """An endpoint's limit: ``limit()`` its text (read at each request, from the app's settings), ``scope``
    the budget it shares with other endpoints, ``methods`` those it counts (None: all), ``key()`` whose budget
    a request spends (default: the client's address)."""

    limit: Callable[[], str]
    scope: str
    methods: frozenset[str] | None = None
    key: Callable[[], str] | None = None


def remote_address() -> str:
    """The client's address (``request.remote_addr``; ``127.0.0.1`` when there is none), as Flask-Limiter's
    ``get_remote_address``."""
    return request.remote_addr or "127.0.0.1"


class RateLimiter:
    """Fixed windows in memory, thread-safe; :meth:`init_app` installs the checks and the headers."""

    def __init__(self, clock: Callable[[], float] = time.time):
        """``clock()``: the time in seconds (epoch) that windows are counted in."""
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], tuple[float, int]] = {}  # key -> (expiry s, hits)
        self.rules: dict[str, Rule] = {}  # endpoint -> its rule

    def _count(self, key: tuple[str, ...], period_s: int, cost: int) -> tuple[float, int]:
        """Add ``cost`` hits to ``key``'s window (opening a new one when none is open); (expiry s, hits)."""
        now = self._clock()
        with self._lock:
            expiry, hits = self._windows.get(key, (0.0, 0))
            if expiry <= now:
                expiry, hits = now + period_s, 0
                if len(self._windows) > 10_000:  # forget the windows that have closed
                    self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            hits += cost
            self._windows[key] = (expiry, hits)
            return expiry, hits

    def _stats(self, key: tuple[str, ...], amount: int) -> tuple[float, int]:
        """(expiry s, remaining hits) of ``key``'s window as it stands."""
        now = self._clock()
        with self._lock:
            expiry, hits = self._windows.get(key, (now, 0))
        if expiry <= now:
            return now, amount
        return expiry, max(0, amount - hits)

    def hit(self, text: str, *identifiers: str) -> bool:
        """Spend one hit of each limit of ``text`` (:func:`parse`) for ``identifiers``; whether all of them
        still allowed it (the ``amount``-th hit of a window is allowed, the next ones are not)."""
        allowed = True
        for limit in parse(text):
            _, hits = self._count(("hit", limit.text, *identifiers), limit.period_s, 1)
            allowed = allowed and hits <= limit.amount
        return allowed

    def limit(self, endpoint: str, rule: Rule) -> None:
        """Limit ``endpoint`` by ``rule`` (one rule an endpoint)."""
        self.rules[endpoint] = rule

    def init_app(self, app: Flask) -> None:
        """Check the rules before each request's view, add the headers after it."""
        app.before_request(self._check)
        app.after_request(self._headers)

    def _check(self) -> None:
        rule = self.rules.get(request.endpoint or "")
        if rule is None or (rule.methods is not None and request.method not in rule.methods):
            return
        who = (rule.key or remote_address)()
        worst: tuple[int, float, Limit, tuple[str, ...]] | None = None
        breached = False
        for limit in parse(rule.limit()):
            key = ("scope", rule.scope, who, limit.text)
            expiry, hits = self._count(key, limit.period_s, 1)
            remaining = max(0, limit.amount - hits)
            breached = breached or hits > limit.amount
            if worst is None or remaining < worst[0]:
                worst = (remaining, expiry, limit, key)
        g.anjungan_rate_limit = worst
        if breached:
            abort(429)

    def _headers(self, response: Response) -> Response:
        worst = g.pop("anjungan_rate_limit", None)
        if worst is None:
            return response
        _, _, limit, key = worst
        expiry, remaining = self._stats(key, limit.amount)
        reset_at = int(expiry + 1)
        response.headers.add("X-RateLimit-Limit", str(limit.amount))
        response.headers.add("X-RateLimit-Remaining", str(remaining))
        response.headers.add("X-RateLimit-Reset", str(reset_at))
        response.headers.set("Retry-After", str(int(reset_at - self._clock())))
        return response
