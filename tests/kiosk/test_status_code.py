"""A receipt number is not a key to someone else's answer: the status code on the receipt is."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from escpos.printer import Dummy
from flask import Flask
from flask.testing import FlaskClient

from gateway import statuscode
from gateway.store import Store
from tests.kiosk.helpers import GOOD_NIK, number_on, post, request_data

ANSWER = "Salinan dapat diambil. Hubungi Ibu Siti Aminah, 081234567890, Desa Kalianyar RT 01."


def _code_on(page: str) -> str:
    match = re.search(r'id="receipt-code">([0-9A-Z-]+)<', page)
    assert match, "no status code on the receipt"
    return match.group(1)


def _answer(store: Store, number: str) -> None:
    store.apply_changes([{"kind": "submission", "id": number, "op": "upsert",
                          "data": {"status": "answered", "answer": ANSWER}}], "c1")  # fmt: skip


def test_the_code_has_enough_randomness_and_is_easy_to_type() -> None:
    assert statuscode.BITS >= 64 and len(statuscode.ALPHABET) == 32
    assert math.log2(len(statuscode.ALPHABET)) * statuscode.LENGTH == statuscode.BITS
    assert not set("ILOU") & set(statuscode.ALPHABET)
    codes = {statuscode.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    code = codes.pop()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}", statuscode.grouped(code))
    typed = statuscode.grouped(code).lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert statuscode.normalise(typed) == code
    assert statuscode.normalise(code[:-1]) is None and statuscode.normalise(code[:-1] + "U") is None


def test_guessed_numbers_show_no_answer_and_no_personal_data(
    client: FlaskClient, app: Flask, kiosk_store: Store
) -> None:
    numbers = [number_on(post(client, "/permohonan", request_data())) for _ in range(5)]
    for number in numbers:
        _answer(kiosk_store, number)
    stranger = app.test_client()
    for number in numbers:
        response = stranger.get(f"/status/{number}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Sudah dijawab" in page  # exists, and its status
        for secret in (ANSWER, "081234567890", "Siti", "Kalianyar", GOOD_NIK, "Batas waktu"):
            assert secret not in page, secret
        assert "ketik kode status" in page


def test_the_code_opens_the_answer_anywhere_and_a_wrong_code_does_not(
    client: FlaskClient, app: Flask, kiosk_store: Store, printer: Dummy
) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    code = _code_on(client.get(f"/tanda-terima/{number}").get_data(as_text=True))
    assert code.encode() in printer.output  # printed on the slip too
    _answer(kiosk_store, number)
    assert ANSWER in client.get(f"/status/{number}").get_data(as_text=True)  # the session that made it
    stranger = app.test_client()
    wrong = statuscode.grouped(statuscode.new_code())
    page = post(stranger, "/status", {"nomor": number, "kode": wrong}).get_data(as_text=True)
    assert ANSWER not in page and "tidak cocok" in page
    response = post(stranger, "/status", {"nomor": number, "kode": code.lower()})
    assert response.status_code == 200 and ANSWER in response.get_data(as_text=True)
    qr = stranger.get(f"/status/{number}?kode={code.replace('-', '')}")  # as the QR code carries it
    assert qr.status_code == 200 and ANSWER in qr.get_data(as_text=True)
    # the session that opened it sees it again (the language switch) until the idle reset; no other one does
    assert ANSWER in stranger.get(f"/status/{number}").get_data(as_text=True)
    assert ANSWER not in app.test_client().get(f"/status/{number}").get_data(as_text=True)
    stranger.post("/selesai")
    assert ANSWER not in stranger.get(f"/status/{number}").get_data(as_text=True)  # nothing remembered
    bad = post(stranger, "/status", {"nomor": number, "kode": "12345"})
    assert bad.status_code == 400 and "Kode status tidak dikenali" in bad.get_data(as_text=True)


def test_only_the_hash_is_stored_and_it_travels_in_the_outbox(
    client: FlaskClient, kiosk_store: Store
) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    code = _code_on(client.get(f"/tanda-terima/{number}").get_data(as_text=True)).replace("-", "")
    raw = b"".join(p.read_bytes() for p in kiosk_store.path.parent.glob("anjungan.db*"))
    assert code.encode() not in raw
    (record,) = kiosk_store.outbox("submissions")
    assert record["access"] == statuscode.access_hash(number, code)
    from sync import protocol

    assert protocol.record_problem("submissions", record) is None
    assert protocol.record_problem("submissions", {**record, "access": "x" * 64}) is not None
    legacy = {k: v for k, v in record.items() if k != "access"}
    assert protocol.record_problem("submissions", legacy) is None  # older gateways send no hash


def test_lookups_are_limited_per_number_whichever_device_asks(make_app: Callable[..., Flask]) -> None:
    app = make_app(KIOSK_LIMIT_STATUS="1000 per minute", KIOSK_LIMIT_STATUS_NUMBER="3 per minute")
    citizen = app.test_client()
    number = number_on(post(citizen, "/permohonan", request_data()))
    other = number_on(post(citizen, "/permohonan", request_data()))
    devices = [app.test_client() for _ in range(4)]
    codes = [device.get(f"/status/{number}").status_code for device in devices]
    assert codes == [200, 200, 200, 429]
    assert devices[3].get(f"/status/{other}").status_code == 200


@pytest.mark.parametrize("limit", ["2 per minute"])
def test_lookups_are_limited_per_device(make_app: Callable[..., Flask], limit: str) -> None:
    app = make_app(KIOSK_LIMIT_STATUS=limit)
    client = app.test_client()
    number = number_on(post(client, "/permohonan", request_data()))
    assert [client.get(f"/status/{number}").status_code for _ in range(3)] == [200, 200, 429]
