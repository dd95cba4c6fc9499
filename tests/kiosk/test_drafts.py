"""Nothing typed is lost by accident: a mis-tap on a link asks first, a language switch and a failed save keep
the text, and only the idle reset, "Batal" and a receipt clear it (real Chromium, sessionStorage drafts)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.config import Config
from gateway.sample_content import seed
from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import request_data
from tests.kiosk.test_browser import shot, type_on_keyboard


@pytest.fixture
def server(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Iterator[LiveServer]:
    seed(kiosk_store, cfg)
    with LiveServer(make_app()) as running:
        yield running


def test_a_mis_tap_asks_and_a_language_switch_keeps_the_text(server: LiveServer, touch_page: Any) -> None:
    page = touch_page
    page.goto(server.url + "/pengaduan")
    type_on_keyboard(page, "#judul", "Jalan rusak")
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    page.tap("label.choice:has(#rahasia)")
    page.tap(".btn-home")  # a mis-tap on "Beranda"
    page.wait_for_selector("#leave:not([hidden])")
    shot(page, "50-leave-form-question")
    page.tap("#leave-stay")
    assert page.url.endswith("/pengaduan") and page.input_value("#judul") == "Jalan rusak"

    page.tap(".btn-lang")  # English: the same form, the same text
    page.wait_for_url("**/pengaduan")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.input_value("#judul") == "Jalan rusak" and page.is_checked("#rahasia")
    shot(page, "51-language-switch-keeps-text")

    page.tap(".btn-home")
    page.wait_for_selector("#leave:not([hidden])")
    page.tap("#leave-go")  # leaving on purpose clears it
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/pengaduan")
    assert page.input_value("#judul") == "" and not page.is_checked("#rahasia")

    type_on_keyboard(page, "#judul", "Sampah")
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    page.tap(".form-actions a")  # "Batal": an explicit clear, no question
    page.wait_for_url(server.url + "/")
    page.goto(server.url + "/pengaduan")
    assert page.input_value("#judul") == ""


def test_a_failed_save_keeps_the_text_and_offers_to_try_again(
    server: LiveServer, touch_page: Any, kiosk_store: Store
) -> None:
    page = touch_page
    page.goto(server.url + "/permohonan")
    typed = request_data(rincian="Salinan APBDes 2025", email="siti@contoh.id")
    for name, value in typed.items():
        if name != "cara_memperoleh":
            page.fill(f"#{name}", value)
    kiosk_store.conn.execute(  # the disk is full: SQLite refuses every new submission
        "CREATE TRIGGER disk_full BEFORE INSERT ON submissions BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"
    )
    page.tap("button[type=submit]")
    page.wait_for_selector("#retry")
    shot(page, "52-failed-save")
    kiosk_store.conn.execute("DROP TRIGGER disk_full")  # space freed
    page.tap("#retry")
    page.wait_for_url("**/permohonan")
    for name, value in typed.items():
        if name != "cara_memperoleh":
            assert page.input_value(f"#{name}") == value, name
    page.tap("button[type=submit]")
    page.wait_for_url(re.compile(r".*/tanda-terima/.*"))
    number = (page.text_content("#receipt-number") or "").strip()
    row = kiosk_store.conn.execute(
        "SELECT public, personal FROM submissions WHERE number = ?", (number,)
    ).fetchone()
    assert json.loads(row[0])["rincian"] == "Salinan APBDes 2025"
    assert json.loads(row[1])["email"] == "siti@contoh.id"
    page.goto(server.url + "/permohonan")  # saved: the next form starts empty
    assert page.input_value("#rincian") == "" and page.input_value("#nama") == ""
