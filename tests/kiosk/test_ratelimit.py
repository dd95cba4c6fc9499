"""The kiosk's rate limits (kiosk/ratelimit.py): Flask-Limiter's syntax and fixed windows, and the headers of a
limited endpoint's responses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from kiosk.ratelimit import Limit, RateLimiter, parse
from tests.kiosk.helpers import number_on, post, request_data


def test_the_syntax_is_flask_limiters() -> None:
    assert parse("10 per minute") == [Limit(10, 60, "10 per minute")]
    assert parse("10/minute; 100/hour") == [Limit(10, 60, "10/minute"), Limit(100, 3600, "100/hour")]
    assert parse("5 per 10 seconds,1 PER DAY|2/month") == [
        Limit(5, 10, "5 per 10 seconds"), Limit(1, 86_400, "1 PER DAY"), Limit(2, 30 * 86_400, "2/month")
    ]  # fmt: skip
    for bad in ("", "ten per minute", "10 per fortnight", "10 minute", "10 per minute;x"):
        with pytest.raises(ValueError):
            parse(bad)


def test_a_window_opens_at_its_first_hit_and_lasts_its_period() -> None:
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.hit("2 per minute", "n") for _ in range(3)] == [True, True, False]
    assert limiter.hit("2 per minute", "other")  # each key has its own budget
    now[0] += 59.9
    assert not limiter.hit("2 per minute", "n")
    now[0] += 0.1  # the window that opened at 1000 s has closed
    assert [limiter.hit("2 per minute", "n") for _ in range(3)] == [True, True, False]
    now[0] += 60
    assert [limiter.hit("2 per minute;3 per hour", "m") for _ in range(4)] == [True, True, False, False]


def test_a_limited_endpoint_says_its_budget(make_app: Callable[..., Flask]) -> None:
    app = make_app(KIOSK_LIMIT_STATUS="2 per minute", KIOSK_LIMIT_STATUS_NUMBER="100 per minute")
    client = app.test_client()
    number = number_on(post(client, "/permohonan", request_data()))
    assert "X-RateLimit-Limit" not in client.get("/").headers  # not limited
    first, second, third = (client.get(f"/status/{number}") for _ in range(3))
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in (first, second, third)] == ["1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in (first, second, third)} == {"2"}
    assert 0 <= int(third.headers["Retry-After"]) <= 61
    assert int(third.headers["X-RateLimit-Reset"]) == int(first.headers["X-RateLimit-Reset"])
