"""Operator pages: password (hashed), rate-limited login, health, submissions without personal data, printer test."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from escpos.printer import Dummy
from flask import Flask
from werkzeug.security import generate_password_hash

from tests.kiosk.helpers import GOOD_NIK, csrf, number_on, post, request_data

PASSWORD = "kunci-operator-2025"


@pytest.fixture
def operator_app(make_app: Callable[..., Flask], kiosk_store) -> Flask:  # type: ignore[no-untyped-def]
    return make_app(KIOSK_PASSWORD_HASH=generate_password_hash(PASSWORD), KIOSK_LIMIT_LOGIN="3 per minute")


def test_operator_pages_off_without_a_password(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/operator/").status_code == 404
    assert client.get("/operator/masuk").status_code == 404


def test_login_health_submissions_logout(operator_app: Flask, printer: Dummy) -> None:
    client = operator_app.test_client()
    assert client.get("/operator/").headers["Location"].endswith("/operator/masuk")
    number = number_on(post(client, "/permohonan", request_data()))
    response = post(client, "/operator/masuk", {"password": "salah"})
    assert response.status_code == 401 and "Kata sandi salah." in response.get_data(as_text=True)
    response = post(client, "/operator/masuk", {"password": PASSWORD})
    assert response.status_code == 302
    from gateway.store.kiosk import ALERT_META_PREFIX

    store = operator_app.extensions["anjungan_store"]
    store.set_meta(ALERT_META_PREFIX + "water:demo-wl-01", '{"active": false}')  # an alert state on record
    health = client.get("/operator/").get_data(as_text=True)
    for text in ("Penyimpanan", "MiB", "submissions", "readings", "events", "Sensor", "Printer"):
        assert text in health
    assert "built-in method" not in health  # the page's alert states never replace the banner's alerts
    rows = client.get("/operator/pengajuan").get_data(as_text=True)
    assert number in rows and "request" in rows and "received" in rows
    assert GOOD_NIK not in rows and "Siti" not in rows
    before = len(printer.output)
    token_page = client.get("/operator/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1)  # type: ignore[union-attr]
    response = client.post("/operator/tes-printer", data={"csrf_token": token}, follow_redirects=True)
    assert "Halaman tes sudah dicetak." in response.get_data(as_text=True)
    assert b"TES PRINTER" in printer.output[before:]
    client.post("/operator/keluar", data={"csrf_token": token})
    assert client.get("/operator/").status_code == 302


def test_login_is_rate_limited(operator_app: Flask) -> None:
    client = operator_app.test_client()
    codes = [post(client, "/operator/masuk", {"password": f"coba{i}"}).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_operator_session_ends_with_the_idle_reset(operator_app: Flask) -> None:
    client = operator_app.test_client()
    post(client, "/operator/masuk", {"password": PASSWORD})
    assert client.get("/operator/").status_code == 200
    client.post("/selesai")
    assert client.get("/operator/").status_code == 302


def test_submissions_the_central_refused_are_shown_and_sent_again(operator_app: Flask, kiosk_store) -> None:  # type: ignore[no-untyped-def]

    client = operator_app.test_client()
    number = number_on(post(client, "/permohonan", request_data()))
    (record,) = kiosk_store.outbox("submissions")
    kiosk_store.dead_letter(
        "submissions", [record], "the central refused the request (422: rejected records)"
    )
    post(client, "/operator/masuk", {"password": PASSWORD})
    page = client.get("/operator/pengajuan").get_data(as_text=True)
    refused = page[page.index('id="refused"') :]
    assert number in refused and "422: rejected records" in refused and "Kirim ulang" in refused
    assert GOOD_NIK not in page and "Siti" not in page and "081234567890" not in page
    token = csrf(client, "/operator/pengajuan")
    response = client.post("/operator/pengajuan/kirim-ulang", data={"csrf_token": token, "seq": str(record["seq"])},
                           follow_redirects=True)  # fmt: skip
    assert "1 pengajuan akan dikirim ulang pada sinkronisasi berikutnya." in response.get_data(as_text=True)
    (row,) = kiosk_store.dead_letters("submissions")
    assert row["retry_requested"] and row["number"] == number
    assert "menunggu kirim ulang" in client.get("/operator/pengajuan").get_data(as_text=True)
    assert (
        client.post("/operator/pengajuan/kirim-ulang", data={"seq": "1"}).status_code == 400
    )  # no CSRF token
