"""A receipt can be read and copied: the number never breaks; examples use this kiosk's prefix; a DIP entry's
"Minta informasi ini" opens a request that already names it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway import regno
from gateway.config import Config
from gateway.sample_content import seed
from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import office_today, post, request_data
from tests.kiosk.test_browser import shot


def test_status_examples_use_this_kiosks_prefix(client: FlaskClient) -> None:
    page = client.get("/status").get_data(as_text=True)
    example = regno.make("test-kiosk", office_today(), 13)
    assert f"Contoh: {example}" in page and "DMK-" not in page
    regno.parse(example)  # a number that would be accepted
    wrong = post(client, "/status", {"nomor": "nomor saya"}).get_data(as_text=True)
    assert f"Contoh: {example}." in wrong and "DMK-" not in wrong


def test_ask_for_this_information_names_the_entry(client: FlaskClient, kiosk_store: Store) -> None:
    entries = [e for e in kiosk_store.content("dip") if e.get("category") == "setiap-saat"]
    page = client.get("/informasi/setiap-saat").get_data(as_text=True)
    links = re.findall(r'href="(/permohonan\?informasi=[^"]+)"', page)
    assert links, "no 'Minta informasi ini' link"
    for link in links:
        entry_id = html.unescape(link).split("=", 1)[1]
        entry = next(e for e in entries if e["id"] == entry_id)
        form = client.get(html.unescape(link)).get_data(as_text=True)
        rincian = re.search(r'<textarea[^>]*id="rincian"[^>]*>([^<]*)</textarea>', form)
        assert rincian and entry["title"] in html.unescape(rincian.group(1))
    assert client.get("/permohonan?informasi=nothing-here").status_code == 200  # unknown: an empty form
    saved = post(client, "/permohonan", request_data(rincian="Salinan APBDes"))  # the citizen's text wins
    assert saved.status_code == 302


@pytest.fixture
def long_id_server(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Iterator[LiveServer]:
    seed(kiosk_store, cfg)
    with LiveServer(make_app(KIOSK_GATEWAY_ID="kecamatan-wonosalam-kab-demak-01")) as running:
        yield running


@pytest.fixture
def demo_id_server(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Iterator[LiveServer]:
    seed(kiosk_store, cfg)
    with LiveServer(make_app(KIOSK_GATEWAY_ID="demo-wonosalam")) as running:
        yield running


NUMBER_BOX_JS = """() => { const e = document.getElementById('receipt-number');
  const range = document.createRange(); range.selectNodeContents(e);
  return {lines: new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size,
          overflow: e.scrollWidth - e.clientWidth, size: parseFloat(getComputedStyle(e).fontSize),
          text: e.textContent}; }"""


def receipt_number_box(server: LiveServer, page: Any) -> dict[str, Any]:
    page.goto(server.url + "/permohonan")
    for name, value in request_data().items():
        if name != "cara_memperoleh":
            page.fill(f"#{name}", value)
    page.tap("button[type=submit]")
    page.wait_for_url(re.compile(r".*/tanda-terima/.*"))
    return dict(page.evaluate(NUMBER_BOX_JS))


@pytest.mark.parametrize("which", ["demo", "long"])
def test_receipt_number_never_breaks(which: str, request: pytest.FixtureRequest, touch_page: Any) -> None:
    server = request.getfixturevalue("demo_id_server" if which == "demo" else "long_id_server")
    box = receipt_number_box(server, touch_page)
    assert box["lines"] == 1 and box["overflow"] <= 0, box
    assert box["size"] >= 30  # still large
    regno.parse(box["text"].strip())
    shot(touch_page, f"40-receipt-{which}-id")
