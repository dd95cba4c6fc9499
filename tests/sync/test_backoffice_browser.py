"""The officers' side in a real Chromium: a complaint filed at the kiosk (the kiosk's own test server) reaches
the central, the PPID verifies it and assigns it to an OPD, the OPD's pelaksana answers it in the back office,
and the answer appears on the kiosk's status page. Screenshots in test-output/screenshots/backoffice-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway import config as config_mod
from gateway.store import Store
from kiosk.app import close_app, create_app
from sync.central.backoffice import accounts
from sync.client import SyncClient
from tests.central.officers import PASSWORD
from tests.fixtures.wsgi import LiveServer
from tests.sync.conftest import CentralHandle

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ANSWER = "Lubang sudah ditambal oleh Dinas PU pada hari Kamis. Terima kasih atas laporannya."


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"backoffice-{name}.png"), full_page=True)


def log_in(page: Any, url: str, name: str) -> None:
    page.goto(url + "/")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/kotak-masuk.*"))


def test_kiosk_complaint_answered_by_a_pelaksana_after_disposition(
    central: CentralHandle, gateway_config: Path, store: Store, make_client: Callable[..., SyncClient],
    chromium: Any,
) -> None:  # fmt: skip
    engine = central.state.engine
    accounts.add_user(engine, "ppid-utama", "ppid", opd=None, password=PASSWORD, now_ms=0)
    accounts.add_user(engine, "pu-budi", "pelaksana", opd="dispu", password=PASSWORD, now_ms=0)
    kiosk_app = create_app(
        config_mod.load(gateway_config, env={}), {"TESTING": True, "KIOSK_PAGE_CACHE_SECONDS": 0.0}
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        with LiveServer(kiosk_app) as kiosk:
            page = context.new_page()
            page.goto(kiosk.url + "/pengaduan")
            page.select_option("#kategori", "jalan-rusak")
            page.fill("#judul", "Jalan berlubang di depan SD")
            page.fill("#isi", "Lubang besar di tengah jalan, dua motor jatuh minggu ini.")
            page.fill("#nama", "Budi Santoso")
            page.fill("#telepon", "085712345678")
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/tanda-terima/.*"))
            number = (page.text_content("#receipt-number") or "").strip()
            shot(page, "01-kiosk-receipt")

            client = make_client()
            client.round()  # the complaint goes up

            log_in(page, central.url, "ppid-utama")
            assert number in page.content() and "Budi Santoso" not in page.content()
            shot(page, "02-inbox")
            page.click(f"text={number}")
            page.click("#step-verifikasi button[type=submit]")
            page.wait_for_selector(".flash")
            # a radio group is a row of choices, not a bullet list; the chosen one is marked
            group = page.locator("#step-tolak ul.choices")
            assert group.evaluate("e => getComputedStyle(e).listStyleType") == "none"
            assert group.evaluate("e => getComputedStyle(e).display") == "flex"
            choice = page.locator("#step-tolak ul.choices li").nth(1)
            assert choice.evaluate("e => getComputedStyle(e).borderTopWidth") == "1px"
            page.click("#step-tolak label[for=reason-1]")
            assert page.is_checked("#reason-1")
            assert choice.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(232, 241, 251)"
            shot(page, "02b-case-choices")
            page.select_option("#step-disposisi select[name=opd]", "dispu")
            page.fill("#step-disposisi textarea[name=text]", "Mohon ditindaklanjuti")
            page.click("#step-disposisi button[type=submit]")
            page.wait_for_selector("#case-status:has-text('Didisposisi')")
            shot(page, "03-case-assigned")
            page.click("form.logout button[type=submit]")
            page.wait_for_selector("#login-form")

            log_in(page, central.url, "pu-budi")
            page.click(f"text={number}")
            page.fill("#step-tanggapi textarea[name=text]", ANSWER)
            shot(page, "04-pelaksana-answers")
            page.click("#step-tanggapi button[type=submit]")
            page.wait_for_selector("#answer")
            assert ANSWER in (page.text_content("#answer") or "")
            shot(page, "05-case-answered")

            client.round()  # the answer comes down
            page.goto(f"{kiosk.url}/status/{number}")
            assert "Sudah dijawab" in (page.text_content("#status-label") or "")
            assert ANSWER in page.content()
            shot(page, "06-kiosk-status-answered")
    finally:
        context.close()
        close_app(kiosk_app)
