"""Switching the language (or a display mode) on a status result opened with its code shows the same result in
the other language; the code stays on the server (never in an address, never in the session cookie) and is
forgotten at the idle reset."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import number_on, post, request_data

ANSWER = "Salinan laporan dapat diambil di kantor kecamatan."


def _filed(client: FlaskClient, store: Store) -> tuple[str, str]:
    """A request filed and answered: (number, status code as on the receipt)."""
    number = number_on(post(client, "/permohonan", request_data()))
    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', receipt).group(1)  # type: ignore[union-attr]
    store.apply_changes([{"kind": "submission", "id": number, "op": "upsert",
                          "data": {"status": "answered", "answer": ANSWER}}], "c1")  # fmt: skip
    return number, code


def _switch(client: FlaskClient, page: str, css_class: str = "btn-lang") -> Any:
    href = re.search(rf'class="btn {css_class}" href="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return html.unescape(href)


def _session(app: Flask, client: FlaskClient) -> dict[str, Any]:
    cookie = client.get_cookie("anjungan")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie.value))


def test_switching_language_keeps_the_status_result(app: Flask, kiosk_store: Store) -> None:
    number, code = _filed(app.test_client(), kiosk_store)
    citizen = app.test_client()  # at the kiosk later, with the receipt in hand
    page = post(citizen, "/status", {"nomor": number, "kode": code}).get_data(as_text=True)
    assert ANSWER in page and "Sudah dijawab" in page
    switch = _switch(citizen, page)
    assert code not in switch and code.replace("-", "") not in switch
    moved = citizen.get(switch)
    assert moved.status_code == 302 and moved.headers["Location"] == f"/status/{number}"
    english = citizen.get(moved.headers["Location"]).get_data(as_text=True)
    assert ANSWER in english and "Answered" in english and "Sudah dijawab" not in english
    assert 'id="code-needed"' not in english  # the same result, not the form asking for the code
    held = repr(_session(app, citizen))
    assert code not in held and code.replace("-", "") not in held  # only a random token in the cookie

    back = citizen.get(_switch(citizen, english), follow_redirects=True).get_data(as_text=True)
    assert ANSWER in back and "Sudah dijawab" in back  # and back again

    stranger = app.test_client()  # another session asking the same address sees no answer
    assert ANSWER not in stranger.get(f"/status/{number}").get_data(as_text=True)
    citizen.post("/selesai")  # the idle reset forgets it on the server
    assert ANSWER not in citizen.get(f"/status/{number}").get_data(as_text=True)


def test_only_the_latest_result_is_kept_and_a_wrong_code_keeps_nothing(
    app: Flask, kiosk_store: Store
) -> None:
    first, first_code = _filed(app.test_client(), kiosk_store)
    second, _ = _filed(app.test_client(), kiosk_store)
    citizen = app.test_client()
    post(citizen, "/status", {"nomor": first, "kode": first_code})
    wrong = post(citizen, "/status", {"nomor": second, "kode": first_code}).get_data(as_text=True)
    assert "Kode status tidak cocok" in wrong and ANSWER not in wrong
    assert ANSWER not in citizen.get(f"/status/{second}").get_data(as_text=True)
    assert ANSWER in citizen.get(f"/status/{first}").get_data(as_text=True)  # still the one it opened


def test_the_language_switch_on_a_status_result_keeps_it_in_chromium(
    make_app: Callable[..., Flask], kiosk_store: Store, touch_page: Any
) -> None:
    app = make_app()
    number, code = _filed(app.test_client(), kiosk_store)
    with LiveServer(app) as server:
        page = touch_page
        page.goto(server.url + "/status")
        page.fill("#nomor", number)
        page.fill("#kode", code)
        page.locator("form.kform button[type=submit]").click()
        page.wait_for_selector(".answer")
        page.locator("a.btn-lang").click()
        page.wait_for_url(f"{server.url}/status/{number}")
        assert page.locator("html").get_attribute("lang") == "en"
        assert ANSWER in page.locator(".answer").inner_text()
        assert code not in page.url and all(code not in c["value"] for c in page.context.cookies())
