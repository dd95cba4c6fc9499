"""The citizen flows in a real Chromium (Debian's, through Playwright) at the kiosk's 1280x800 touch screen."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gateway.sample_content import seed
from gateway.store import Store
from tests.fixtures.wsgi import LiveServer

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def type_on_keyboard(page: Any, selector: str, text: str) -> None:
    """Tap the field, then tap each key of the on-screen keyboard."""
    page.tap(selector)
    page.wait_for_selector("#kb:not([hidden])")
    for ch in text:
        key = {" ": "space", "\n": "enter"}.get(ch, ch.lower())
        if ch.isupper():
            page.tap('#kb .kb-key[data-key="shift"]')
        page.tap(f'#kb .kb-key[data-key="{key}"]')


@pytest.fixture
def server(make_app: Callable[..., Flask], kiosk_store: Store, cfg) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    seed(kiosk_store, cfg)
    with LiveServer(make_app(KIOSK_ALERT_POLL_SECONDS=2)) as running:
        yield running


@pytest.fixture
def idle_server(make_app: Callable[..., Flask]) -> Iterator[LiveServer]:
    """Idle after 3 s, warning for 10 s (the real settings clamp the warning to at least 20 s): long enough for a
    screenshot and a tap on a loaded machine."""
    with LiveServer(make_app(KIOSK_IDLE_SECONDS=3, KIOSK_IDLE_WARNING_SECONDS=10)) as running:
        yield running


def test_complaint_on_the_on_screen_keyboard_receipt_and_status(server: LiveServer, touch_page: Any) -> None:
    page = touch_page
    page.goto(server.url + "/")
    shot(page, "01-home")
    page.tap("text=Pengaduan")
    page.wait_for_url("**/pengaduan")
    page.select_option("#kategori", "jalan-rusak")
    type_on_keyboard(page, "#judul", "Jalan rusak")
    shot(page, "02-complaint-keyboard-text")
    assert page.input_value("#judul") == "Jalan rusak"
    type_on_keyboard(page, "#isi", "Lubang besar di depan SD")
    type_on_keyboard(page, "#nama", "Budi")
    type_on_keyboard(page, "#telepon", "081234567890")
    assert page.locator("#kb").get_attribute("class") == "kb kb-numeric"
    shot(page, "03-complaint-keyboard-numeric")
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    assert page.locator("#kb").is_hidden()
    page.tap("button[type=submit]")
    page.wait_for_url(re.compile(r".*/tanda-terima/.*"))
    number = page.text_content("#receipt-number").strip()  # type: ignore[union-attr]
    assert re.fullmatch(r"TEST-KIOSK-\d{6}-\d{5}", number)
    assert page.locator(".qr svg").count() == 1
    size = page.eval_on_selector("#receipt-number", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 40
    shot(page, "04-receipt")

    page.goto(server.url + "/status")
    type_on_keyboard(page, "#nomor", number.lower())
    page.tap("button[type=submit]")  # with the keyboard still open
    page.wait_for_url(f"**/status/{number}")
    assert "Diterima, menunggu diproses" in page.text_content("#status-label")  # type: ignore[operator]
    shot(page, "05-status")

    page.goto(server.url + "/status")
    type_on_keyboard(page, "#nomor", number[:-1] + str((int(number[-1]) + 1) % 10))
    page.tap("button[type=submit]")
    assert "salah ketik" in page.text_content(".error")  # type: ignore[operator]
    shot(page, "06-status-mistyped")


def test_form_errors_on_screen(server: LiveServer, touch_page: Any) -> None:
    page = touch_page
    page.goto(server.url + "/permohonan")
    type_on_keyboard(page, "#nik", "12345")
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    page.tap("button[type=submit]")
    page.wait_for_selector(".form-errors")
    assert "NIK harus 16 angka" in page.content()
    shot(page, "07-request-errors")


def test_idle_warns_then_clears_everything(idle_server: LiveServer, touch_page: Any) -> None:
    page, server = touch_page, idle_server
    page.goto(server.url + "/bahasa/en?kembali=/pengaduan")
    type_on_keyboard(page, "#judul", "rahasia warga")  # longer than the idle time: typing is activity
    assert page.locator("#idle").is_hidden()
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    page.wait_for_selector("#idle:not([hidden])", timeout=10_000)
    shot(page, "08-idle-warning")
    page.tap("#idle-continue")  # continuing keeps what was typed
    assert page.locator("#idle").is_hidden()
    assert page.input_value("#judul") == "rahasia warga"
    page.wait_for_selector("#idle:not([hidden])", timeout=10_000)
    page.wait_for_url(server.url + "/", timeout=25_000)  # no answer: back home
    assert page.locator("html").get_attribute("lang") == "id"  # the language is back to the default
    assert "rahasia warga" not in page.content()
    page.goto(server.url + "/pengaduan")
    assert page.input_value("#judul") == ""
    shot(page, "09-after-idle")


def test_no_request_leaves_the_kiosk(server: LiveServer, touch_page: Any) -> None:
    page = touch_page
    outside: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if re.match(r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/", url) or url.startswith(
            ("data:", "about:", "blob:")
        ):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.context.route("**/*", guard)
    for path in ("/", "/informasi", "/informasi/berkala", "/pengumuman", "/kondisi", "/permohonan",
                 "/pengaduan", "/keberatan", "/status"):  # fmt: skip
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
    page.goto(server.url + "/informasi/serta-merta")
    page.tap("text=Baca dokumen")
    page.wait_for_selector(".doc-page img")
    page.wait_for_function("document.querySelector('.doc-page img').naturalWidth > 0")
    shot(page, "10-document")
    assert outside == []


def test_alert_banner_appears_without_reload(
    server: LiveServer, touch_page: Any, feed: Callable[..., None]
) -> None:
    page = touch_page
    page.goto(server.url + "/informasi")
    assert page.locator(".alert-water").count() == 0
    feed("dmk-wl-01", {"water_cm": 171.0})
    page.wait_for_selector(".alert-water", timeout=10_000)
    assert "171 cm" in page.text_content(".alert-water")  # type: ignore[operator]
    shot(page, "11-flood-banner")


def test_touch_targets_and_contrast(server: LiveServer, touch_page: Any, feed: Callable[..., None]) -> None:
    feed("dmk-wl-01", {"water_cm": 171.0}, history_hours=3)
    page = touch_page
    too_small, low_contrast = [], []
    for path in ("/", "/informasi/berkala", "/pengaduan", "/permohonan", "/kondisi", "/status"):
        page.goto(server.url + path)
        too_small += page.evaluate(SMALL_TARGETS_JS)
        low_contrast += page.evaluate(CONTRAST_JS)
    page.goto(server.url + "/pengaduan")
    page.tap("#judul")
    too_small += page.evaluate(SMALL_TARGETS_JS)
    shot(page, "12-keyboard")
    assert too_small == []
    assert low_contrast == []


SMALL_TARGETS_JS = """() => Array.from(document.querySelectorAll(
  'a, button, input:not([type=hidden]), select, textarea, label.choice')).filter(e => {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(e).visibility === 'hidden') return false;
    if (e.closest('p, dd, .alert-text, li.card p') && e.tagName === 'A') return false;  // links inside text
    if (e.matches('input[type=radio], input[type=checkbox]')) return false;  // their label is the target
    return r.width < 44 || r.height < 44;
  }).map(e => location.pathname + ' ' + e.tagName + ' ' + (e.id || e.textContent.trim().slice(0, 30)))"""

CONTRAST_JS = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126*r + 0.7152*g + 0.0722*b; };
  const bg = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0.9) { if (c.length < 4 || c[3] > 0) return c; } } return [255, 255, 255]; };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    if (!Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const st = getComputedStyle(e); const r = e.getBoundingClientRect();
    if (!r.width || st.visibility === 'hidden') continue;
    const fg = rgb(st.color), b = bg(e);
    const [l1, l2] = [lum(fg), lum(b)].sort((x, y) => y - x);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(location.pathname + ' ' + e.tagName + ' ' + ratio.toFixed(2) + ' ' + e.textContent.trim().slice(0, 30));
  }
  return bad;
}"""
