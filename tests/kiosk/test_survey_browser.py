"""The satisfaction survey in a real Chromium on a touch screen: from the status page, one tap per question
on targets of at least 48 px, a question left out, the rating stored anonymously."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask

from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_targets import TARGETS_JS


@pytest.fixture
def server(make_app: Callable[..., Flask]) -> Iterator[LiveServer]:
    with LiveServer(make_app()) as running:
        yield running


def test_rating_after_a_status_check(
    server: LiveServer, kiosk_store: Store, cfg: Any, touch_page: Any
) -> None:
    saved = kiosk_store.add_submission("request", {"rincian": "APBDes"}, {"nama": "Siti"},
                                       gateway_id=cfg.gateway.id, due_date=date(2030, 1, 1))  # fmt: skip
    page = touch_page
    page.goto(f"{server.url}/status/{saved['number']}")
    page.tap("#survey-link")
    page.wait_for_url("**/survei/cek-status")
    answers = page.locator(".survey-answer")
    assert answers.count() == 36  # nine questions, four faces each
    for i in range(answers.count()):
        box = answers.nth(i).bounding_box()
        assert box is not None and box["width"] >= 48 and box["height"] >= 48
    page.tap("#q-u1 .answer-4")
    page.tap("#q-u2 .answer-3")
    page.tap("#q-u2 .answer-1")  # a change of mind: the last tap counts
    page.tap("#q-u9 .answer-2")  # u3-u8 left out
    assert page.is_checked("#q-u2 .answer-1 input") and not page.is_checked("#q-u2 .answer-3 input")
    page.tap("#survey-send")
    page.wait_for_selector("#survey-done")
    rows = kiosk_store.conn.execute("SELECT service, u1, u2, u3, u8, u9 FROM ratings_held").fetchall()
    assert rows == [("status-check", 4, 1, None, None, 2)]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_survey_target_fits_a_finger(server: LiveServer, touch_page: Any, lang: str) -> None:
    page = touch_page
    page.goto(f"{server.url}/bahasa/{lang}?kembali=/survei/pengaduan")
    page.wait_for_selector("#q-u9")
    assert page.evaluate(TARGETS_JS) == []  # every link, button and label at least 44 x 44 CSS px
    assert page.locator("html").get_attribute("lang") == lang


def test_the_survey_can_be_skipped(server: LiveServer, kiosk_store: Store, touch_page: Any) -> None:
    """Skipping saves nothing and ends the visit as "Selesai" does (the language and the session go), as its
    button says."""
    page = touch_page
    page.goto(f"{server.url}/bahasa/en?kembali=/survei/permohonan")
    page.wait_for_selector("#q-u1")
    page.tap("#q-u1 .answer-3")
    assert page.inner_text("#survey-skip").strip() == "Skip and finish"  # it says what it does
    page.tap("#survey-skip")
    page.wait_for_url(f"{server.url}/")
    assert page.locator("html").get_attribute("lang") == "id"
    assert kiosk_store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0] == 0


def test_every_question_is_readable_in_high_contrast(server: LiveServer, touch_page: Any) -> None:
    """The questions' text differs from their card's background in the high-contrast mode too."""
    page = touch_page
    page.goto(f"{server.url}/tampilan/kontras/nyala?kembali=/survei/pengaduan")
    page.wait_for_selector("#q-u9")
    assert "mode-kontras" in (page.locator("html").get_attribute("class") or "")
    colours = page.evaluate(
        """() => [...document.querySelectorAll('.survey-item')].map(item => {
             const legend = getComputedStyle(item.querySelector('legend'));
             return [legend.color, getComputedStyle(item).backgroundColor];
           })"""
    )
    assert len(colours) == 9
    assert all(text != background for text, background in colours), colours


def test_each_face_is_read_when_touched_once_reading_is_on(server: LiveServer, touch_page: Any) -> None:
    """In read-fields mode, touching a face reads its question and its word, as a form's choices are read;
    "Dengarkan" reads the whole questionnaire."""
    page = touch_page
    page.goto(f"{server.url}/survei/pengaduan")
    page.wait_for_selector("#q-u1")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/dengarkan/" in r.url else None)
    page.tap("#q-u2 .answer-2")
    assert page.is_checked("#q-u2 .answer-2 input")
    assert asked == []  # reading is off: nothing is spoken
    page.goto(f"{server.url}/tampilan/baca/nyala?kembali=/survei/pengaduan")
    page.wait_for_selector("#q-u1")
    assert "mode-baca" in (page.locator("html").get_attribute("class") or "")
    sources = page.eval_on_selector_all("#q-u5 input[type=radio]", "els => els.map(e => e.dataset.listen)")
    assert len(set(sources)) == 4 and all(s.startswith("/dengarkan/id/") for s in sources)
    with page.expect_response(lambda r: r.url.endswith(sources[3])) as audio:
        page.tap("#q-u5 .answer-4")
    assert audio.value.status == 200 and audio.value.headers["content-type"] == "audio/wav"
    assert page.is_checked("#q-u5 .answer-4 input")
    src = page.get_attribute("#listen", "data-src")
    assert src and src not in sources
    with page.expect_response(lambda r: r.url.endswith(src)) as whole:
        page.tap("#listen")
    assert whole.value.status == 200
