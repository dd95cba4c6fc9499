"""The kiosk's "Kabari saya lewat SMS": the opt-in on each form, kept with the submission and sent to the central
as the record's optional ``sms`` field; never for an anonymous complaint; the phone still purged after sync."""

from __future__ import annotations

import json

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
