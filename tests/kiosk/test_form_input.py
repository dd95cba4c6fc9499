"""What the forms keep of what a citizen typed: digits of any script, NIK structure, text as written."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from gateway.store import Store
from kiosk import nik
from tests.kiosk.helpers import complaint_data, number_on, post, request_data

ARABIC_INDIC_NIK = "٣٥١٥٠١٤١٠١٩٠٠٠٠١"  # 35 15 01 | 41 01 90 (a woman born 1 January 1990) | 0001
JAVANESE_NIK = "꧓꧕꧑꧕꧐꧑꧔꧑꧐꧑꧙꧐꧐꧐꧐꧑"  # the same NIK in Javanese digits (U+A9D0-U+A9D9)
MIXED_PHONE = "08١٢٣٤٥٦٧٨٩٠"


def stored(store: Store, number: str) -> tuple[dict, dict | None]:  # type: ignore[type-arg]
    public, personal = store.conn.execute(
        "SELECT public, personal FROM submissions WHERE number = ?", (number,)
    ).fetchone()
    return json.loads(public), json.loads(personal) if personal else None


def count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0])


@pytest.mark.parametrize("typed", [ARABIC_INDIC_NIK, JAVANESE_NIK, "３５１５０１４１０１９００００１"])
def test_nik_and_phone_digits_of_any_script_are_stored_as_ascii(
    client: FlaskClient, kiosk_store: Store, typed: str
) -> None:
    number = number_on(post(client, "/permohonan", request_data(nik=typed, telepon=MIXED_PHONE)))
    _public, personal = stored(kiosk_store, number)
    assert personal is not None
    assert personal["nik"] == "3515014101900001"
    assert personal["telepon"] == "081234567890"


def test_complaint_date_and_phone_in_arabic_indic_digits(client: FlaskClient, kiosk_store: Store) -> None:
    data = complaint_data(telepon=MIXED_PHONE, nik=ARABIC_INDIC_NIK, tanggal_kejadian="٢٠٢٥-٠٣-٠١")
    number = number_on(post(client, "/pengaduan", data))
    public, personal = stored(kiosk_store, number)
    assert public["tanggal_kejadian"] == "2025-03-01"
    assert personal == {"nama": "Budi Santoso", "nik": "3515014101900001", "telepon": "081234567890"}


def test_status_number_in_arabic_indic_digits(client: FlaskClient, kiosk_store: Store) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    typed = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    response = post(client, "/status", {"nomor": typed})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/status/{number}")


@pytest.mark.parametrize(
    ("typed", "message", "english"),
    [
        ("3321013102900001", "bukan tanggal lahir", "not a date of birth"),  # 31 February
        ("3321017102900001", "bukan tanggal lahir", "not a date of birth"),  # a woman's 31 February
        ("3321012902010001", "bukan tanggal lahir", "not a date of birth"),  # 29-02 in 1901 or 2001
        ("3321013201900001", "bukan tanggal lahir", "not a date of birth"),  # day 32
        ("3321014001900001", "bukan tanggal lahir", "not a date of birth"),  # day 40 (0 + 40)
        ("3321010113900001", "bukan tanggal lahir", "not a date of birth"),  # month 13
        ("3321010100900001", "bukan tanggal lahir", "not a date of birth"),  # month 00
        ("٣٣٢١٠١٣١٠٢٩٠٠٠٠١", "bukan tanggal lahir", "not a date of birth"),  # 31 February, Arabic-Indic
        ("2021010101900001", "bukan kode wilayah", "not a region code"),  # no province 20
        ("9921010101900001", "bukan kode wilayah", "not a region code"),  # no province 99
        ("3300010101900001", "bukan kode wilayah", "not a region code"),  # regency 00
        ("3321000101900001", "bukan kode wilayah", "not a region code"),  # district 00
        ("3321010101900000", "tidak boleh 0000", "cannot be 0000"),  # serial 0000
        ("٣٣٢١٠١٠١٠١٩٠٠٠٠", "NIK harus 16 angka", "The NIK must be 16 digits"),  # 15 digits
        ("3321０101019000011", "NIK harus 16 angka", "The NIK must be 16 digits"),  # 17 digits
        ("³³²¹⁰¹⁰¹⁰¹⁹⁰⁰⁰⁰¹", "NIK harus 16 angka", "The NIK must be 16 digits"),  # superscripts are no digits
    ],
)
def test_impossible_nik_is_refused_in_both_languages(
    client: FlaskClient, kiosk_store: Store, typed: str, message: str, english: str
) -> None:
    response = post(client, "/permohonan", request_data(nik=typed))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    client.get("/bahasa/en")
    response = post(client, "/permohonan", request_data(nik=typed))
    assert response.status_code == 400
    assert english in response.get_data(as_text=True)
    assert count(kiosk_store) == 0


@pytest.mark.parametrize(
    "typed",
    [
        "3321016902000001",  # a woman born 29 February 2000 (a leap year)
        "3321012902960001",  # a man born 29 February 1996
        "9401013112990001",  # a Papua NIK issued before 2022 (province 94), 31 December 1999
        "9601017112059999",  # Papua Barat Daya (96), a woman born 31 December 2005, serial 9999
        "1101010101000001",  # Aceh, 1 January 2000
    ],
)
def test_possible_nik_is_accepted(client: FlaskClient, typed: str) -> None:
    assert post(client, "/permohonan", request_data(nik=typed)).status_code == 302


def test_nik_parts() -> None:
    woman = nik.parse("3515014101900001")
    assert woman == nik.Nik("351501", 1, 1, 90, True, 1)
    assert nik.parse("3321012512870042") == nik.Nik("332101", 25, 12, 87, False, 42)
    with pytest.raises(nik.InvalidNik) as caught:
        nik.parse("٣٥١٥٠١٤١٠١٩٠٠٠٠١")  # the parser wants ASCII: the form normalises first
    assert caught.value.part == "length"
    assert {p for p in nik.PROVINCES if p // 10 == 3} == {31, 32, 33, 34, 35, 36}


def test_emoji_sequences_and_joiners_are_kept(client: FlaskClient, kiosk_store: Store) -> None:
    family = "👨\u200d👩\u200d👧"
    flag = "🏳\ufe0f\u200d🌈"
    devanagari = "क्\u200dष"  # a half form asked for with a zero-width joiner
    persian = "می\u200cخواهم"  # a zero-width non-joiner inside a word
    data = complaint_data(
        judul=f"Keluarga {family} kehilangan rumah",
        isi=f"Kami {family} {flag}\n{devanagari} {persian}\n\tdaftar:\n\n\n\nakhir",
        nama=f"Budi {family}",
    )
    number = number_on(post(client, "/pengaduan", data))
    public, personal = stored(kiosk_store, number)
    assert public["judul"] == f"Keluarga {family} kehilangan rumah"
    assert public["isi"] == f"Kami {family} {flag}\n{devanagari} {persian}\n\tdaftar:\n\nakhir"
    assert personal is not None and personal["nama"] == f"Budi {family}"


def test_control_characters_and_bidi_controls_are_removed(client: FlaskClient, kiosk_store: Store) -> None:
    # "Trojan Source" style: an override makes the line read differently from what it holds
    data = complaint_data(
        judul="Tagihan \u202eRp 000.005\u202c air",
        isi="a\u2066b\u2069c\u202ad\u202be\u202df\x00\x07\x1b\x7f\x85\x9fg\u200eh\u200fi\nj",
        lokasi="RT\u200b02 \u2067RW\u2068 03",
    )
    number = number_on(post(client, "/pengaduan", data))
    public, _personal = stored(kiosk_store, number)
    assert public["judul"] == "Tagihan Rp 000.005 air"
    # left-to-right and right-to-left marks (U+200E, U+200F) are neither overrides nor isolates: kept
    assert public["isi"] == "abcdefg\u200eh\u200fi\nj"
    assert public["lokasi"] == "RT\u200b02 RW 03"
