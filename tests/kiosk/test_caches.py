"""The kiosk's caches (cachetools under a lock): how long they keep what, and what they do meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kiosk.conditions import ChartCache
from kiosk.pagecache import MARKER, PageCache


def test_a_drawn_chart_is_kept_ttl_seconds_and_a_failed_one_at_least_a_minute() -> None:
    cache = ChartCache()
    made: list[str] = []

    def make(name: str, drawn: bool) -> tuple[bytes, bool]:
        made.append(name)
        return name.encode(), drawn

    for _ in range(3):
        assert cache.get(("n1", "water_cm"), 600.0, lambda: make("kept", True)) == (b"kept", True)
        assert cache.get(("n1", "rain_mm"), 0.0, lambda: make("uncached", True)) == (b"uncached", True)
        assert cache.get(("n1", "temp_c"), 0.0, lambda: make("failed", False)) == (b"failed", False)
    assert made == ["kept", "uncached", "failed", "uncached", "uncached"]


class Pages:
    """A WSGI app that counts its renders and can hold one until released."""

    def __init__(self) -> None:
        self.renders = 0
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.renders += 1
        if self.hold is not None:
            self.entered.set()
            assert self.hold.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain"), (MARKER, "public")])
        return [f"render {self.renders}".encode()]


def get(cache: PageCache, path: str = "/") -> bytes:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = b"".join(cache({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": ""}, start_response))
    assert seen["status"] == "200 OK" and all(name != MARKER for name, _ in seen["headers"])
    return body


def test_a_fresh_page_is_answered_from_the_cache_and_a_ttl_of_zero_turns_it_off() -> None:
    app, ttl = Pages(), [60.0]
    cache = PageCache(app, lambda: ttl[0])
    assert [get(cache), get(cache), get(cache, "/x")] == [b"render 1", b"render 1", b"render 2"]
    ttl[0] = 0.0
    assert [get(cache), get(cache)] == [b"render 3", b"render 4"]
    ttl[0] = 60.0
    cache.clear()
    assert get(cache) == b"render 5"


def test_a_stale_page_is_rendered_again_by_one_thread_while_the_others_get_the_stale_one() -> None:
    app = Pages()
    cache = PageCache(app, lambda: 1e-9)  # stale at once, still kept for STALE_S
    assert get(cache) == b"render 1"
    app.hold = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        refreshing = pool.submit(get, cache)
        assert app.entered.wait(30)
        assert [get(cache) for _ in range(5)] == [b"render 1"] * 5  # no second render meanwhile
        app.hold.set()
        assert refreshing.result(30) == b"render 2"
    assert app.renders == 2
