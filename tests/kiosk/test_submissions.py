"""Citizens' flows through the Flask test client: requests, complaints, objections, receipts, status, bad input."""

from __future__ import annotations

import json
import logging
import re
from datetime import date

import pytest
from escpos.printer import Dummy
from flask.testing import FlaskClient

from gateway import dates, regno
from gateway.store import Store
from tests.kiosk.helpers import GOOD_NIK, complaint_data, number_on, office_today, post, request_data


def personal_of(store: Store, number: str) -> dict | None:  # type: ignore[type-arg]
    row = store.conn.execute("SELECT personal FROM submissions WHERE number = ?", (number,)).fetchone()
    return json.loads(row[0]) if row[0] else None


def test_information_request_end_to_end(client: FlaskClient, kiosk_store: Store, printer: Dummy) -> None:
    response = post(client, "/permohonan", request_data())
    assert response.status_code == 302
    number = number_on(response)
    regno.parse(number)  # a valid number with its check digit
    assert number.startswith("TEST-KIOSK-")
    record = kiosk_store.submission(number)
    assert record is not None and record["kind"] == "request"
    assert record["due_date"] == dates.request_due(office_today()).isoformat()
    assert record["public"]["rincian"].startswith("Salinan laporan")
    assert "nik" not in record["public"] and "nama" not in record["public"]
    assert personal_of(kiosk_store, number)["nik"] == GOOD_NIK  # type: ignore[index]

    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    assert number in receipt and 'class="receipt-number"' in receipt
    assert "<svg" in receipt and "segno" in receipt  # the QR code, inline
    assert GOOD_NIK not in receipt and "Siti Aminah" not in receipt
    assert "sudah dicetak" in receipt
    assert number.encode() in printer.output and GOOD_NIK.encode() not in printer.output
    assert b"Siti" not in printer.output


def test_qr_encodes_the_public_status_url(make_app, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    client = make_app(KIOSK_PUBLIC_URL="https://ppid.demakkab.go.id").test_client()
    number = number_on(post(client, "/permohonan", request_data()))
    from kiosk.views.submit import status_url

    page = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', page).group(1).replace("-", "")  # type: ignore[union-attr]
    with client.application.test_request_context():
        assert status_url(number, code) == f"https://ppid.demakkab.go.id/status/{number}?kode={code}"
    import segno

    expected = segno.make(f"https://ppid.demakkab.go.id/status/{number}?kode={code}", error="m").svg_inline(
        scale=5, dark="#000000", light="#ffffff", omitsize=True
    )
    assert expected in page


def test_receipt_only_in_the_session_that_made_it(app, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    number = number_on(post(client, "/permohonan", request_data()))
    other = app.test_client()
    response = other.get(f"/tanda-terima/{number}")
    assert response.status_code == 302 and f"/status/{number}" in response.headers["Location"]


def test_copy_options_required_when_a_copy_is_wanted(client: FlaskClient) -> None:
    response = post(client, "/permohonan", request_data(cara_memperoleh="salinan"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Pilih bentuk salinan." in page and "Pilih cara mendapatkan salinan." in page
    response = post(client, "/permohonan", request_data(cara_memperoleh="salinan", format_salinan="softcopy",
                                                        cara_salinan="email"))  # fmt: skip
    assert "Isi alamat e-mail" in response.get_data(as_text=True)
    response = post(client, "/permohonan", request_data(cara_memperoleh="salinan", format_salinan="softcopy",
                                                        cara_salinan="email", email="siti@contoh.id"))  # fmt: skip
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("nik", "message"),
    [
        ("", "Bagian ini wajib diisi."),
        ("12345", "NIK harus 16 angka"),
        ("33210101019000012", "NIK harus 16 angka"),
        ("3321abcd01900001", "NIK harus 16 angka"),
        ("3321019901900001", "NIK ini tidak mungkin benar"),  # day 99
        ("0021010101900001", "NIK ini tidak mungkin benar"),  # no province 00
    ],
)
def test_bad_nik(client: FlaskClient, kiosk_store: Store, nik: str, message: str) -> None:
    response = post(client, "/permohonan", request_data(nik=nik))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert kiosk_store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_nik_with_spaces_is_accepted(client: FlaskClient) -> None:
    assert post(client, "/permohonan", request_data(nik="3321 0101 0190 0001")).status_code == 302


@pytest.mark.parametrize("phone", ["12345", "0812", "+1 555 0100", "08123456789012345", "abc"])
def test_bad_phone(client: FlaskClient, phone: str) -> None:
    response = post(client, "/permohonan", request_data(telepon=phone))
    assert response.status_code == 400 and "Nomor telepon tidak valid" in response.get_data(as_text=True)


def test_messages_in_english_when_chosen(client: FlaskClient) -> None:
    client.get("/bahasa/en")
    page = post(client, "/permohonan", request_data(nik="1")).get_data(as_text=True)
    assert "The NIK must be 16 digits" in page


def test_hostile_fields_are_escaped_and_cleaned(client: FlaskClient, kiosk_store: Store) -> None:
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = post(client, "/permohonan", request_data(nama=script, nik="1"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    response = post(
        client,
        "/permohonan",
        request_data(nama="Siti\x00\x07 Ami\u202enah\r\nX", rincian="a\x1b[31mb\n\n\n\nc"),
    )
    number = number_on(response)
    assert personal_of(kiosk_store, number)["nama"] == "Siti Aminah X"  # type: ignore[index]
    assert kiosk_store.submission(number)["public"]["rincian"] == "a[31mb\n\nc"  # type: ignore[index]


def test_length_caps(client: FlaskClient) -> None:
    response = post(client, "/permohonan", request_data(nama="A" * 101))
    assert response.status_code == 400 and "paling banyak 100 huruf" in response.get_data(as_text=True)
    response = post(client, "/permohonan", request_data(rincian="x" * 70_000))
    assert response.status_code == 413


def test_csrf_is_required(client: FlaskClient, kiosk_store: Store) -> None:
    for path, data in (
        ("/permohonan", request_data()),
        ("/pengaduan", complaint_data()),
        ("/status", {"nomor": "x"}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert "kedaluwarsa" in response.get_data(as_text=True)
    response = client.post("/permohonan", data={**request_data(), "csrf_token": "forged"})
    assert response.status_code == 400
    assert kiosk_store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_rate_limit_on_submissions(make_app, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    client = make_app(KIOSK_LIMIT_SUBMIT="3 per minute").test_client()
    codes = [post(client, "/permohonan", request_data()).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    assert "Terlalu banyak percobaan" in post(client, "/pengaduan", complaint_data()).get_data(as_text=True)


def test_complaint_with_identity(client: FlaskClient, kiosk_store: Store) -> None:
    number = number_on(post(client, "/pengaduan", complaint_data(tanggal_kejadian="2025-03-01")))
    record = kiosk_store.submission(number)
    assert record is not None and record["kind"] == "complaint"
    assert (
        record["public"]["kategori"] == "jalan-rusak" and record["public"]["tanggal_kejadian"] == "2025-03-01"
    )
    assert record["public"]["anonim"] is False and record["public"]["rahasia"] is False
    assert record["due_date"] == dates.complaint_due(office_today()).isoformat()
    assert personal_of(kiosk_store, number) == {"nama": "Budi Santoso", "nik": "", "telepon": "085712345678"}


def test_anonymous_confidential_complaint_keeps_no_identity(client: FlaskClient, kiosk_store: Store) -> None:
    data = complaint_data(anonim="y", rahasia="y", nama="Budi", nik=GOOD_NIK, kategori="pungli")
    number = number_on(post(client, "/pengaduan", data))
    record = kiosk_store.submission(number)
    assert record["public"]["anonim"] is True and record["public"]["rahasia"] is True  # type: ignore[index]
    assert personal_of(kiosk_store, number) is None


def test_complaint_needs_name_and_phone_unless_anonymous(client: FlaskClient) -> None:
    page = post(client, "/pengaduan", complaint_data(nama="", telepon="", kategori="")).get_data(as_text=True)
    assert "Isi nama Anda, atau pilih Anonim." in page and "Pilih kategori." in page
    assert "Isi nomor telepon" in page
    page = post(
        client, "/pengaduan", complaint_data(kategori="nuklir", tanggal_kejadian="2999-01-01")
    ).get_data(as_text=True)
    assert "Not a valid choice" in page or "pilihan" in page.lower() or "Pilih" in page
    assert "masa depan" in page


def test_objection_against_an_earlier_request(client: FlaskClient, kiosk_store: Store) -> None:
    request_number = number_on(post(client, "/permohonan", request_data()))
    data = {**request_data(), "nomor_permohonan": request_number.lower(), "alasan": ["c", "g"],
            "uraian": "Sudah lewat 10 hari kerja tanpa jawaban."}  # fmt: skip
    number = number_on(post(client, "/keberatan", data))
    record = kiosk_store.submission(number)
    assert record["public"] == {"nomor_permohonan": request_number, "alasan": ["c", "g"],  # type: ignore[index]
                                "uraian": "Sudah lewat 10 hari kerja tanpa jawaban."}  # fmt: skip
    assert record["due_date"] == dates.objection_due(office_today()).isoformat()  # type: ignore[index]


def test_objection_number_checks(client: FlaskClient) -> None:
    complaint = number_on(post(client, "/pengaduan", complaint_data()))
    base = {**request_data(), "alasan": ["c"], "uraian": "x"}
    mistyped = complaint[:-1] + str((int(complaint[-1]) + 1) % 10)
    page = post(client, "/keberatan", {**base, "nomor_permohonan": mistyped}).get_data(as_text=True)
    assert "salah ketik" in page
    page = post(client, "/keberatan", {**base, "nomor_permohonan": "nomor saya"}).get_data(as_text=True)
    assert "Bentuk nomor tidak dikenali" in page
    page = post(client, "/keberatan", {**base, "nomor_permohonan": complaint}).get_data(as_text=True)
    assert "bukan nomor permohonan" in page
    page = post(client, "/keberatan", {**base, "nomor_permohonan": complaint, "alasan": []}).get_data(
        as_text=True
    )
    assert "Pilih paling sedikit satu alasan." in page
    # well-formed but filed elsewhere: accepted
    elsewhere = regno.make("dmk-mijen", date(2025, 2, 3), 7)
    assert post(client, "/keberatan", {**base, "nomor_permohonan": elsewhere}).status_code == 302
    page = post(client, "/keberatan", {**base, "nomor_permohonan": elsewhere, "alasan": ["z"]}).get_data(
        as_text=True
    )
    assert "Not a valid choice" in page or "bukan pilihan" in page.lower() or "error" in page


def test_number_messages_follow_the_problem_in_each_language(client: FlaskClient) -> None:
    """The message is chosen by the number's problem (gateway.regno.InvalidNumber.code), then translated."""
    good = regno.make("test-kiosk", office_today(), 3)
    mistyped = good[:-1] + str((int(good[-1]) + 1) % 10)
    no_such_day = f"TEST-KIOSK-261399-0001{regno.damm('2613990001')}"
    example = regno.make("test-kiosk", office_today(), 13)
    for lang, wrong_digit, unknown in [
        ("id", "salah ketik", f"Bentuk nomor tidak dikenali. Contoh: {example}."),
        ("en", "This number is mistyped", f"This number is not in a form we know. Example: {example}."),
    ]:
        client.set_cookie("lang", lang)
        for number, expected in [(mistyped, wrong_digit), ("nomor saya", unknown), (no_such_day, unknown)]:
            page = post(client, "/status", {"nomor": number}).get_data(as_text=True)
            assert expected in page, (lang, number)


def test_status_check(client: FlaskClient, kiosk_store: Store) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    response = post(client, "/status", {"nomor": f"  {number.lower()} "})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/status/{number}")
    page = client.get(f"/status/{number}").get_data(as_text=True)
    assert "Diterima, menunggu diproses" in page and "Belum ada jawaban" in page
    kiosk_store.apply_changes([{"kind": "submission", "id": number, "op": "upsert", "data": {
        "status": "dijawab", "answer": "Salinan <b>LRA 2024</b> dapat diambil di loket PPID.",
        "answered_at": "2025-02-10T09:00:00+07:00"}}], "c1")  # fmt: skip
    page = client.get(f"/status/{number}").get_data(as_text=True)
    assert "Sudah dijawab" in page and "Salinan &lt;b&gt;LRA 2024&lt;/b&gt; dapat diambil" in page
    for secret in (GOOD_NIK, "Siti Aminah", "081234567890", "Kalianyar"):
        assert secret not in page


def test_status_mistyped_and_unknown(client: FlaskClient) -> None:
    number = regno.make("test-kiosk", date(2025, 2, 3), 12)
    mistyped = number[:-2] + number[-1] + number[-2]  # two adjacent digits swapped
    if mistyped == number:
        mistyped = number[:-1] + str((int(number[-1]) + 1) % 10)
    response = post(client, "/status", {"nomor": mistyped})
    assert response.status_code == 400 and "salah ketik" in response.get_data(as_text=True)
    response = client.get(f"/status/{mistyped}")
    assert response.status_code == 400 and "salah ketik" in response.get_data(as_text=True)
    response = client.get(f"/status/{number}")
    assert response.status_code == 404 and "belum ada di anjungan ini" in response.get_data(as_text=True)
    assert client.get("/status/" + "9" * 500).status_code == 400


def test_status_rate_limited(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(KIOSK_LIMIT_STATUS="2 per minute").test_client()
    number = regno.make("test-kiosk", date(2025, 2, 3), 1)
    codes = [client.get(f"/status/{number}").status_code for _ in range(3)]
    assert codes == [404, 404, 429]


def test_finish_clears_the_session(client: FlaskClient) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    client.get("/bahasa/en")
    response = client.post("/selesai")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get_cookie("lang") is None
    assert client.get(f"/tanda-terima/{number}").status_code == 302  # the receipt is gone with the session


def test_no_personal_data_in_logs(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    post(client, "/permohonan", request_data())
    post(client, "/pengaduan", complaint_data())
    text = caplog.text
    assert "saved request" in text
    for secret in (GOOD_NIK, "Siti Aminah", "081234567890", "Budi Santoso", "Kalianyar"):
        assert secret not in text
