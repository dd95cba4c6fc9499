"""Every form filled with the on-screen keyboard alone, in a real Chromium with touch: what is stored is exactly
what was typed and chosen (no ghost click of a key on the page beneath, no scroll jump under the finger)."""

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
from tests.kiosk.test_browser import shot, type_on_keyboard


@pytest.fixture
def server(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Iterator[LiveServer]:
    seed(kiosk_store, cfg)
    with LiveServer(make_app()) as running:
        yield running


def fill(page: Any, field: str, text: str) -> None:
    """Tap the field, type on the on-screen keyboard, close it with its "Selesai" key."""
    type_on_keyboard(page, f"#{field}", text)
    page.tap('#kb .kb-key[data-key="done"]')
    page.wait_for_timeout(650)  # a tap in the keyboard's place within 600 ms is still the keyboard's
    page.wait_for_selector("#kb", state="hidden")
    assert page.input_value(f"#{field}") == text, field


def choose(page: Any, name: str, value: str) -> None:
    page.tap(f'label.choice:has(input[name="{name}"][value="{value}"])')
    assert page.is_checked(f'input[name="{name}"][value="{value}"]'), (name, value)


def submit(page: Any, store: Store) -> tuple[dict[str, Any], dict[str, Any] | None]:
    page.tap("button[type=submit]")
    page.wait_for_url(re.compile(r".*/tanda-terima/.*"))
    number = (page.text_content("#receipt-number") or "").strip()
    record = store.submission(number)
    assert record is not None
    row = store.conn.execute("SELECT personal FROM submissions WHERE number = ?", (number,)).fetchone()
    return {**record["public"], "number": number}, json.loads(row[0]) if row[0] else None


def test_every_form_on_the_on_screen_keyboard_alone(
    server: LiveServer, touch_page: Any, kiosk_store: Store
) -> None:
    page = touch_page
    page.goto(server.url + "/permohonan")
    identity = {"nama": "Siti Aminah", "nik": "3321010101900001", "alamat": "Desa Kalianyar RT 01/RW 02",
                "pekerjaan": "Petani", "telepon": "081234567890", "email": "siti@contoh.id"}  # fmt: skip
    for field, text in identity.items():
        fill(page, field, text)
    fill(page, "rincian", "Laporan realisasi anggaran 2024")
    fill(page, "tujuan", "Bahan musyawarah desa")
    choose(page, "cara_memperoleh", "salinan")
    choose(page, "format_salinan", "hardcopy")
    choose(page, "cara_salinan", "langsung")
    shot(page, "20-keyboard-request-filled")
    public, personal = submit(page, kiosk_store)
    shot(page, "21-keyboard-request-receipt")
    assert personal == identity
    assert {k: public[k] for k in ("rincian", "tujuan", "cara_memperoleh", "format_salinan", "cara_salinan")} == {
        "rincian": "Laporan realisasi anggaran 2024", "tujuan": "Bahan musyawarah desa",
        "cara_memperoleh": "salinan", "format_salinan": "hardcopy", "cara_salinan": "langsung"}  # fmt: skip
    request_number = public["number"]

    page.goto(server.url + "/pengaduan")
    choose(page, "klasifikasi", "aspirasi")
    page.select_option("#kategori", "jalan-rusak")
    fill(page, "judul", "Jalan berlubang")
    fill(page, "isi", "Lubang besar di depan SD, dua motor jatuh.")
    fill(page, "lokasi", "Jalan Desa Mrisen RT 02")
    fill(page, "tanggal_kejadian", "2025-03-24")
    fill(page, "nama", "Budi Santoso")
    fill(page, "nik", "3321010101900002")
    fill(page, "telepon", "085712345678")
    shot(page, "22-keyboard-complaint-filled")
    assert not page.is_checked("#rahasia") and not page.is_checked("#anonim")
    public, personal = submit(page, kiosk_store)
    assert public["rahasia"] is False and public["anonim"] is False  # never chosen, never stored
    assert {k: public[k] for k in ("klasifikasi", "kategori", "judul", "isi", "lokasi", "tanggal_kejadian")} == {
        "klasifikasi": "aspirasi", "kategori": "jalan-rusak", "judul": "Jalan berlubang",
        "isi": "Lubang besar di depan SD, dua motor jatuh.", "lokasi": "Jalan Desa Mrisen RT 02",
        "tanggal_kejadian": "2025-03-24"}  # fmt: skip
    assert personal == {"nama": "Budi Santoso", "nik": "3321010101900002", "telepon": "085712345678"}

    page.goto(server.url + "/keberatan")
    fill(page, "nomor_permohonan", request_number.lower())
    page.tap('label.choice:has(input[name="alasan"][value="c"])')
    fill(page, "uraian", "Belum ada jawaban setelah 10 hari kerja.")
    for field, text in identity.items():
        fill(page, field, text)
    shot(page, "23-keyboard-objection-filled")
    public, personal = submit(page, kiosk_store)
    assert public["nomor_permohonan"] == request_number and public["alasan"] == ["c"]
    assert public["uraian"] == "Belum ada jawaban setelah 10 hari kerja."
    assert personal == identity


STATE_JS = """() => ({
    checked: Array.from(document.querySelectorAll('input[type=checkbox], input[type=radio]'))
        .map(i => (i.name || i.id) + '=' + i.value + ':' + i.checked),
    marker: window.__kbMarker || null,
    url: location.href,
})"""


@pytest.mark.parametrize("path", ["/permohonan", "/pengaduan", "/keberatan"])
def test_a_double_tap_on_done_never_lands_on_the_page(server: LiveServer, touch_page: Any, path: str) -> None:
    """Issue 11 item 2: two taps on "Selesai" 60–400 ms apart, on every keyboard field of the form, change no
    checkbox or radio and never leave the page (the second tap lands where the keyboard was)."""
    page = touch_page
    page.goto(server.url + path)
    page.evaluate("() => { window.__kbMarker = 'kept'; }")
    fields = page.eval_on_selector_all("[data-kb]", "els => els.filter(e => e.offsetParent).map(e => e.id)")
    assert len(fields) >= 5, fields
    before = page.evaluate(STATE_JS)
    assert before["marker"] == "kept"
    page.evaluate(
        "() => { window.__ends = 0; window.addEventListener('touchend', () => { window.__ends += 1; }, true); }"
    )
    taps = 0
    for field in fields:
        for gap_ms in (60, 120, 250, 400):
            # a tap where the keyboard was is swallowed for 600 ms after it closed: the next field waits
            page.wait_for_timeout(650)
            page.tap(f"#{field}")
            page.wait_for_selector("#kb:not([hidden])")
            kind = page.get_attribute(f"#{field}", "data-kb")
            page.tap('#kb .kb-key[data-key="{}"]'.format("1" if kind in ("numeric", "date") else "a"))
            taps += 1
            box = page.locator('#kb .kb-key[data-key="done"]').bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.touchscreen.tap(x, y)
            page.wait_for_timeout(gap_ms)  # the input: the gap between the two taps of a double tap
            page.touchscreen.tap(x, y)
            taps += 2
            # both taps have ended (touchend reached the page) and the events of each have been dispatched
            page.wait_for_function("n => window.__ends >= n", arg=taps, timeout=10_000)
            page.wait_for_selector("#kb", state="hidden")
            after = page.evaluate(STATE_JS)
            assert after == before, (path, field, gap_ms)
