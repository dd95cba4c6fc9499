"""The kiosk's "Kabari saya lewat SMS": the opt-in on each form, kept with the submission and sent to the central
as the record's optional ``sms`` field; never for an anonymous complaint; the phone still purged after sync."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

from escpos.printer import Dummy
from flask import Flask
from flask.testing import FlaskClient

from gateway.store import Store
from tests.kiosk.helpers import complaint_data, number_on, post, request_data


def outbox_record(store: Store, number: str) -> dict:  # type: ignore[type-arg]
    (record,) = [r for r in store.outbox("submissions") if r["number"] == number]
    return record


def test_each_form_offers_the_sms_opt_in_in_both_languages(client: FlaskClient) -> None:
    for path in ("/permohonan", "/pengaduan", "/keberatan"):
        page = client.get(path).get_data(as_text=True)
        assert 'name="kabari_sms"' in page and "Kabari saya lewat SMS" in page, path
    client.get("/bahasa/en")
    english = client.get("/permohonan").get_data(as_text=True)
    assert "Tell me by SMS when there is an answer" in english and "Kabari saya" not in english


def test_the_opt_in_travels_with_the_record_and_the_phone_is_purged_after_sync(
    client: FlaskClient, kiosk_store: Store
) -> None:
    asked = number_on(post(client, "/permohonan", request_data(kabari_sms="y")))
    silent = number_on(post(client, "/permohonan", request_data(rincian="Data stunting 2025")))
    record = outbox_record(kiosk_store, asked)
    assert record["sms"] is True and record["personal"]["telepon"] == "081234567890"
    assert "sms" not in outbox_record(kiosk_store, silent)  # as older gateways send it
    kiosk_store.mark_acked("submissions", max(r["seq"] for r in kiosk_store.outbox("submissions")))
    kiosk_store.purge_personal(kiosk_store.acked("submissions"))
    row = kiosk_store.conn.execute(
        "SELECT personal, notify_sms FROM submissions WHERE number = ?", (asked,)
    ).fetchone()
    assert row == (None, 1)  # the central keeps the number for the SMS; the kiosk does not


def test_an_anonymous_complaint_never_asks_for_sms(client: FlaskClient, kiosk_store: Store) -> None:
    refused = post(client, "/pengaduan", complaint_data(anonim="y", nama="", telepon="", kabari_sms="y"))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "Pengaduan anonim tidak mendapat SMS" in page
    assert kiosk_store.outbox("submissions") == []  # nothing kept: the citizen chooses
    number = number_on(post(client, "/pengaduan", complaint_data(anonim="y", nama="", telepon="")))
    record = outbox_record(kiosk_store, number)
    assert record["personal"] is None and "sms" not in record
    named = number_on(post(client, "/pengaduan", complaint_data(kabari_sms="y", judul="Lampu jalan mati")))
    assert outbox_record(kiosk_store, named)["sms"] is True
    assert json.dumps(outbox_record(kiosk_store, number)).count("085712345678") == 0


def test_sms_needs_a_mobile_number_and_the_hint_says_so(client: FlaskClient, kiosk_store: Store) -> None:
    """A landline gets no SMS: the form refuses the opt-in with it, in the citizen's language."""
    form = client.get("/permohonan").get_data(as_text=True)
    assert "Hanya ke nomor HP (08… atau +628…). Pengaduan anonim tidak mendapat SMS." in form
    for path, data in (("/permohonan", request_data(telepon="0243551234", kabari_sms="y")),
                       ("/pengaduan", complaint_data(telepon="0243551234", kabari_sms="y"))):  # fmt: skip
        page = post(client, path, data).get_data(as_text=True)
        assert "SMS hanya dapat dikirim ke nomor HP (08… atau +628…)" in page, path
    assert kiosk_store.outbox("submissions") == []
    client.get("/bahasa/en")
    english = post(client, "/permohonan", request_data(telepon="0243551234", kabari_sms="y")).get_data(
        as_text=True
    )
    assert "An SMS can only go to a mobile number (08… or +628…)" in english
    assert "Anonymous complaints get no SMS." in english and "Kabari" not in english
    landline = number_on(post(client, "/permohonan", request_data(telepon="0243551234")))  # without SMS: fine
    assert "sms" not in outbox_record(kiosk_store, landline)
    mobile = number_on(post(client, "/permohonan", request_data(telepon="+6281234567890", kabari_sms="y")))
    assert outbox_record(kiosk_store, mobile)["sms"] is True


def _receipt(client: FlaskClient, path: str, data: dict) -> tuple[str, str]:  # type: ignore[type-arg]
    number = number_on(post(client, path, data))
    return number, client.get(f"/tanda-terima/{number}").get_data(as_text=True)


def _slip_text(printer: Dummy) -> str:
    """The printed slips' words, their lines joined (the slip wraps at its width)."""
    return " ".join(printer.output.decode("latin-1").split())


def _reading_of(app: Flask, page: str) -> str:
    src = html.unescape(re.search(r'id="listen" data-src="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    passage = app.extensions["anjungan_speech"].passage(src.rsplit("/", 1)[1].removesuffix(".wav"))
    assert passage is not None
    return str(passage.text)


def test_the_receipt_says_where_the_sms_goes_on_screen_on_the_slip_and_aloud(
    app: Flask, client: FlaskClient, printer: Dummy
) -> None:
    number, page = _receipt(client, "/permohonan", request_data(kabari_sms="y"))
    assert "Anda akan mendapat SMS ke 0812****7890 setiap kali status berubah." in page
    assert "081234567890" not in page  # masked: the first and last four digits only
    assert "SMS ke 0812****7890 bila status berubah." in _slip_text(printer)
    spoken = _reading_of(app, page)
    assert "Anda akan mendapat SMS ke nomor HP Anda setiap kali status berubah." in spoken
    assert "7890" not in spoken  # read aloud at a public screen: no digits of the phone
    client.get("/bahasa/en")
    english = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    assert "You will get an SMS at 0812****7890 whenever the status changes." in english
    _, plus = _receipt(client, "/keberatan", {**request_data(telepon="+6285712345678", kabari_sms="y"),
                                              "nomor_permohonan": number, "alasan": ["c"], "uraian": "Belum dijawab."})  # fmt: skip
    assert "You will get an SMS at 0857****5678" in plus


def test_a_receipt_without_sms_says_why_when_the_citizen_could_not_have_one(
    client: FlaskClient, printer: Dummy
) -> None:
    _, anonymous = _receipt(client, "/pengaduan", complaint_data(anonim="y", nama="", telepon=""))
    assert "Pengaduan anonim tidak mendapat SMS, karena nomor Anda tidak disimpan." in anonymous
    _, landline = _receipt(client, "/permohonan", request_data(telepon="0243551234"))
    assert "Tidak ada SMS: nomor telepon yang Anda isi bukan nomor HP." in landline
    assert "Tidak ada SMS: nomor telepon bukan nomor HP." in _slip_text(printer)
    _, not_asked = _receipt(client, "/permohonan", request_data())  # a mobile number, no SMS asked: no line
    assert 'id="receipt-sms"' not in not_asked and "SMS ke" not in not_asked
    client.get("/bahasa/en")
    _, english = _receipt(
        client, "/pengaduan", complaint_data(anonim="y", nama="", telepon="", judul="Lampu")
    )
    assert "An anonymous complaint gets no SMS, because your number is not kept." in english


def test_the_status_page_says_sms_will_come_also_after_the_phone_is_purged(
    make_app: Callable[..., Flask], kiosk_store: Store
) -> None:
    app = make_app()
    citizen, later = app.test_client(), app.test_client()
    asked, receipt = _receipt(citizen, "/permohonan", request_data(kabari_sms="y"))
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', receipt).group(1)  # type: ignore[union-attr]
    silent = number_on(post(citizen, "/permohonan", request_data(rincian="Data stunting 2025")))
    own = citizen.get(f"/status/{asked}").get_data(as_text=True)
    assert "Dikirim ke 0812****7890 setiap kali status berubah." in own  # the session that filed it
    assert 'id="status-sms"' not in citizen.get(f"/status/{silent}").get_data(as_text=True)

    kiosk_store.mark_acked("submissions", max(r["seq"] for r in kiosk_store.outbox("submissions")))
    assert kiosk_store.purge_personal(kiosk_store.acked("submissions")) == 2
    assert 'id="status-sms"' not in later.get(f"/status/{asked}").get_data(as_text=True)  # no code: no line
    page = post(later, "/status", {"nomor": asked, "kode": code}).get_data(as_text=True)
    assert "Dikirim ke nomor HP Anda setiap kali status berubah." in page and "7890" not in page
    later.get("/bahasa/en")
    english = post(later, "/status", {"nomor": asked, "kode": code}).get_data(as_text=True)
    assert "Sent to your mobile number whenever the status changes." in english
