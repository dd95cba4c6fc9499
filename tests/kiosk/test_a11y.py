"""Pages anyone can use, in a real Chromium: axe-core finds no serious or critical violation on any kiosk page, in
both languages, plain, with large text and with high contrast; "Dengarkan" plays the page's text and stops; with
"Bacakan isian" on, a field is read when touched; and the on-screen keyboard never covers the field being typed
in. axe-core comes inside the ``axe-playwright-python`` wheel: nothing is downloaded when the tests run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from gateway import regno
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import office_today
from tests.kiosk.test_browser import shot

PAGES = ["/", "/informasi", "/informasi/berkala", "/informasi/serta-merta", "/informasi/setiap-saat",
         "/informasi/dikecualikan", "/pengumuman", "/kondisi", "/permohonan", "/pengaduan", "/keberatan", "/status",
         "/halaman-yang-tidak-ada"]  # fmt: skip
MODES = ["", "besar", "kontras"]
BLOCKING = ("serious", "critical")


def blocking_violations(page: Any, label: str) -> list[str]:
    """The serious and critical axe-core violations on the page, one line per rule and element."""
    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            for node in violation["nodes"]:
                found.append(
                    f"{label}: {violation['id']} ({violation['impact']}) {node['target']} {node['html'][:120]}"
                )
    return found


def choose(page: Any, base: str, lang: str, mode: str) -> None:
    page.goto(f"{base}/bahasa/{lang}?kembali=/")
    if mode:
        page.goto(f"{base}/tampilan/{mode}/nyala?kembali=/")
        assert f"mode-{mode}" in (page.locator("html").get_attribute("class") or "")


def submit_complaint(page: Any, base: str) -> str:
    """File a complaint from this browser's session (the form's own token and key); returns the receipt's URL."""
    page.goto(base + "/pengaduan")
    form = {
        "csrf_token": page.input_value("input[name=csrf_token]"),
        "idempotency_key": page.input_value("input[name=idempotency_key]"),
        "klasifikasi": "pengaduan",
        "kategori": "jalan-rusak",
        "judul": "Jalan berlubang di depan SD",
        "isi": "Lubang besar di tengah jalan.",
        "lokasi": "Jalan Desa Mrisen",
        "nama": "Budi Santoso",
        "telepon": "085712345678",
    }
    reply = page.request.post(base + "/pengaduan", form=form)
    assert reply.ok and "/tanda-terima/" in reply.url, reply.url
    return str(reply.url)


def test_the_check_finds_what_it_looks_for(seeded_server: LiveServer, touch_page: Any) -> None:
    page = touch_page
    page.goto(seeded_server.url + "/")
    page.evaluate("""() => {
      const main = document.getElementById('main');
      main.appendChild(document.createElement('button'));  // a button without a name
      const faint = document.createElement('p');
      faint.textContent = 'tulisan pucat';
      faint.style.color = '#dddddd';  // on the light page: far below 4.5:1
      main.appendChild(faint);
    }""")
    found = "\n".join(blocking_violations(page, "/"))
    assert "button-name (critical)" in found and "color-contrast (serious)" in found


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_page_passes_axe(seeded_server: LiveServer, touch_page: Any, lang: str, mode: str) -> None:
    page, base = touch_page, seeded_server.url
    choose(page, base, lang, mode)
    found: list[str] = []
    for path in PAGES:
        page.goto(base + path)
        found += blocking_violations(page, path)
    page.goto(base + "/informasi/berkala")
    document = page.locator("a[href^='/dokumen/']").first.get_attribute("href")
    page.goto(base + str(document))
    found += blocking_violations(page, "/dokumen/…")
    page.goto(f"{base}/status/{regno.make('test-kiosk', office_today(), 999)}")  # well-formed, not known here
    found += blocking_violations(page, "/status/<unknown>")
    page.goto(base + "/permohonan")
    page.evaluate("() => document.querySelector('form.kform').submit()")  # empty: every error shown
    page.wait_for_selector(".form-errors")
    found += blocking_violations(page, "/permohonan (errors)")
    page.goto(submit_complaint(page, base))
    found += blocking_violations(page, "/tanda-terima/…")
    shot(page, f"40-a11y-receipt-{lang}-{mode or 'plain'}")
    page.locator("a[href^='/status/']").first.click()
    page.wait_for_url(re.compile(r".*/status/[^/]+$"))
    found += blocking_violations(page, "/status/…")
    page.goto(base + "/")
    shot(page, f"41-a11y-home-{lang}-{mode or 'plain'}")
    assert found == [], f"{len(found)} serious or critical axe-core violations:\n" + "\n".join(found)


def test_listen_plays_the_page_and_stops(seeded_server: LiveServer, touch_page: Any) -> None:
    page, base = touch_page, seeded_server.url
    page.goto(base + "/pengumuman")
    button = page.locator("#listen")
    box = button.bounding_box()
    assert box and box["width"] >= 48 and box["height"] >= 48
    src = button.get_attribute("data-src")
    assert src and src.startswith("/dengarkan/id/")
    with page.expect_response(lambda r: r.url.endswith(src)) as audio:
        button.tap()
    assert audio.value.status == 200 and audio.value.headers["content-type"] == "audio/wav"
    page.wait_for_selector("#listen[aria-pressed=true]")
    assert "Berhenti" in button.inner_text()
    shot(page, "42-listen-playing")
    button.tap()
    page.wait_for_selector("#listen[aria-pressed=false]")
    assert "Dengarkan" in button.inner_text()
    assert page.evaluate("() => window.anjunganReader.playing()") is None


def test_fields_are_read_when_touched_once_reading_is_on(seeded_server: LiveServer, touch_page: Any) -> None:
    page, base = touch_page, seeded_server.url
    page.goto(base + "/permohonan")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/dengarkan/" in r.url else None)
    page.tap("#nama")
    page.wait_for_selector("#kb:not([hidden])")
    page.evaluate("() => window.anjunganKeyboard.hide()")
    assert asked == []  # reading is off: nothing is spoken
    page.tap("#mode-baca")
    page.wait_for_url(base + "/permohonan")
    assert "mode-baca" in (page.locator("html").get_attribute("class") or "")
    src = page.get_attribute("#nik", "data-listen")
    assert src
    with page.expect_response(lambda r: r.url.endswith(src)) as audio:
        page.tap("#nik")
    assert audio.value.status == 200
    page.goto(base + "/pengaduan")  # the choice is kept from page to page
    assert "mode-baca" in (page.locator("html").get_attribute("class") or "")
    page.evaluate("() => fetch('/selesai', {method: 'POST'})")  # the idle reset ends it
    page.goto(base + "/pengaduan")
    assert "mode-baca" not in (page.locator("html").get_attribute("class") or "")


FIELDS_ABOVE_KEYBOARD = """(id) => {
  const f = document.getElementById(id).getBoundingClientRect();
  const kb = document.getElementById('kb');
  if (kb.hidden) return false;
  return f.top >= 0 && f.bottom <= kb.getBoundingClientRect().top;
}"""


@pytest.mark.parametrize("mode", ["", "besar"])
def test_the_keyboard_never_covers_the_field(seeded_server: LiveServer, touch_page: Any, mode: str) -> None:
    page, base = touch_page, seeded_server.url
    choose(page, base, "id", mode)
    for path, fields in (
        ("/permohonan", ["nama", "nik", "alamat", "pekerjaan", "telepon", "email", "rincian", "tujuan"]),
        ("/pengaduan", ["judul", "isi", "lokasi", "tanggal_kejadian", "nama", "nik", "telepon"]),
        ("/keberatan", ["nomor_permohonan", "uraian", "telepon", "email"]),
    ):
        for field in fields:
            page.goto(base + path)  # a fresh page each time: the field is tapped where it lies, low or high
            page.tap(f"#{field}")
            page.wait_for_function(FIELDS_ABOVE_KEYBOARD, arg=field)
    shot(page, f"43-keyboard-field-above-{mode or 'plain'}")
