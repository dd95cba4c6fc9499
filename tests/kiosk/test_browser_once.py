"""A double tap on "Kirim" in a real Chromium (Debian's, through Playwright) sends the form once."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_browser import shot


class HoldPosts:
    """WSGI middleware: every POST to ``path`` waits until :meth:`release` (an answer as slow as we like), and
    ``GET /__second-tap?disabled=…`` (sent by the page) records that the second tap has happened."""

    def __init__(self, app: Any, path: str):
        self.app, self.path = app, path
        self.posts = 0
        self.second_tap: str | None = None
        self.arrived = threading.Event()
        self.tapped = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/__second-tap":
            self.second_tap = environ["QUERY_STRING"]
            self.tapped.set()
            start_response("204 No Content", [])
            return [b""]
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == self.path:
            with self._lock:
                self.posts += 1
            self.arrived.set()
            self._released.wait(timeout=120)
        return self.app(environ, start_response)

    def release(self) -> None:
        self._released.set()


# While a navigation is pending, Chromium holds back DevTools commands for the page, so Playwright cannot tap
# a second time then; the page taps itself: 50 ms after the first submit (the answer is held back), it clicks
# the button again (as a tap would) and reports whether the button was disabled.
SECOND_TAP_JS = """() => document.addEventListener("submit", () => setTimeout(() => {
  const button = document.querySelector("button[type=submit]");
  const disabled = button.disabled;
  button.click();
  fetch("/__second-tap?disabled=" + disabled, {cache: "no-store"});
}, 50), {once: true})"""


@pytest.fixture
def slow_server(make_app: Callable[..., Flask]) -> Iterator[tuple[LiveServer, HoldPosts]]:
    app = make_app()
    hold = HoldPosts(app.wsgi_app, "/pengaduan")
    app.wsgi_app = hold  # type: ignore[method-assign]
    try:
        with LiveServer(app) as running:
            yield running, hold
    finally:
        hold.release()


def test_double_tap_sends_the_complaint_once(
    slow_server: tuple[LiveServer, HoldPosts], touch_page: Any, kiosk_store: Store
) -> None:
    server, hold = slow_server
    page = touch_page
    page.goto(server.url + "/pengaduan")
    page.select_option("#kategori", "banjir")
    page.fill("#judul", "Banjir di RT 03")
    page.fill("#isi", "Air setinggi lutut sejak pagi.")
    page.fill("#nama", "Budi")
    page.fill("#telepon", "081234567890")
    page.evaluate(SECOND_TAP_JS)
    page.tap("button[type=submit]", no_wait_after=True)  # the first tap of a double tap
    assert hold.arrived.wait(timeout=30), "the first tap sent nothing"
    assert hold.tapped.wait(timeout=30), "the second tap did not happen"
    assert hold.second_tap == "disabled=true"  # the button was disabled once the form was on its way
    hold.release()
    page.wait_for_url(re.compile(r".*/tanda-terima/.*"), timeout=30_000)
    number = page.text_content("#receipt-number").strip()  # type: ignore[union-attr]
    shot(page, "13-complaint-double-tap-receipt")
    assert hold.posts == 1
    rows = kiosk_store.conn.execute("SELECT number FROM submissions").fetchall()
    assert rows == [(number,)]
