"""Officers read words, not codes, in the page's language: a submission's fields with the kiosk form's labels,
an objection's grounds as UU 14/2008 Ps. 35(1) names them, complaint categories in the inbox, WTForms'
messages in Bahasa Indonesia (English when chosen), radio groups as choices. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.central.conftest import Gateway
from tests.central.officers import citizen, logged_in, post
from tests.central.test_backoffice_cases import AT, CPL, OBJ, REQ, case_page, step

GROUND_C = "Ps. 35(1) c: tidak ditanggapinya permintaan informasi"


@pytest.fixture
def ppid(app: Flask, gateway: Gateway) -> FlaskClient:
    """A PPID officer, with a request (a copy by e-mail), a complaint and an objection against the request."""
    request = citizen(1, "request", REQ, AT, cara_memperoleh="salinan", format_salinan="softcopy",
                      cara_salinan="email")  # fmt: skip
    records = [request, citizen(2, "complaint", CPL, AT),
               citizen(3, "objection", OBJ, AT, nomor_permohonan=REQ, alasan=["c", "f"])]  # fmt: skip
    assert gateway.send("submissions", records).json["acked"] == 3
    client = logged_in(app, "ppid1", "ppid")
    assert client.get("/kotak-masuk").status_code == 200  # the cases are made
    return client


def english(client: FlaskClient) -> FlaskClient:
    assert client.get("/bahasa/en?next=/kotak-masuk").status_code == 302
    return client


def test_a_case_shows_the_forms_labels_and_the_choices_words(ppid: FlaskClient) -> None:
    page = case_page(ppid, REQ)
    for raw in (
        "cara_memperoleh",
        "format_salinan",
        "cara_salinan",
        "rincian",
        "tujuan",
        ">salinan<",
        ">email<",
    ):
        assert raw not in page, raw
    public = page[page.index('class="public"') :]
    # in the kiosk form's order, each field with its label and each choice with its words
    assert re.search(r"Rincian informasi yang dibutuhkan.*Tujuan penggunaan informasi.*Cara memperoleh informasi"
                     r".*Mendapatkan salinan.*Bentuk salinan.*Softcopy \(berkas digital\).*Cara mendapatkan salinan"
                     r".*E-mail", public, re.S)  # fmt: skip
    shown = post(ppid, f"/berkas/dmk-wonosalam/{REQ}/identitas", page=f"/berkas/dmk-wonosalam/{REQ}")
    identity = shown.get_data(as_text=True)
    assert "Nama lengkap" in identity and "Siti Aminah" in identity and "Nomor telepon / HP" in identity
    assert "<dt>nama</dt>" not in identity and "<dt>telepon</dt>" not in identity
    page = case_page(english(ppid), REQ)
    assert (
        "Information requested" in page
        and "How to obtain the information" in page
        and "Getting a copy" in page
    )


def test_an_objections_grounds_as_the_law_names_them(ppid: FlaskClient) -> None:
    page = case_page(ppid, OBJ)
    assert GROUND_C in page and "Ps. 35(1) f: pengenaan biaya yang tidak wajar" in page
    assert not re.search(r"<dd[^>]*>\s*c(, f)?\s*</dd>", page) and ">c,f<" not in page
    category = re.search(r'<dd id="case-category">(.*?)</dd>', page, re.S)
    assert category and GROUND_C in category.group(1)
    inbox = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert f"Keberatan · {GROUND_C}; Ps. 35(1) f" in inbox
    page = case_page(english(ppid), OBJ)
    assert "Art. 35(1) c: the request for information was not responded to" in page


def test_the_inbox_offers_and_shows_complaint_categories_by_name(ppid: FlaskClient) -> None:
    inbox = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert '<option value="jalan-rusak" >Jalan rusak</option>' in inbox
    assert '<option value="pungli" >Pungutan liar (pungli)</option>' in inbox
    assert ">jalan-rusak<" not in inbox and "Pengaduan · Jalan rusak" in inbox
    filtered = ppid.get("/kotak-masuk?category=jalan-rusak").get_data(as_text=True)
    assert CPL in filtered and REQ not in filtered and '<option value="jalan-rusak" selected>' in filtered
    english(ppid)
    assert '<option value="jalan-rusak" >Damaged road</option>' in ppid.get("/kotak-masuk").get_data(
        as_text=True
    )


def test_form_messages_speak_the_pages_language(app: Flask, ppid: FlaskClient) -> None:
    step(ppid, REQ, "verifikasi")
    refused = step(ppid, REQ, "perpanjang", days="9", text="")
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Perpanjangan (hari kerja, paling lama 7): Angka harus antara 1 dan 7." in text
    assert "Alasan perpanjangan: Bagian ini wajib diisi." in text
    assert "Number must be" not in text and "This field is required" not in text
    unknown = step(ppid, REQ, "disposisi", opd="tidak-ada", text="").get_data(as_text=True)
    assert "Disposisi ke OPD: Pilihan tidak dikenal." in unknown and "Not a valid choice" not in unknown
    no_token = ppid.post(f"/berkas/dmk-wonosalam/{REQ}/selesai", data={})
    assert no_token.status_code == 400
    assert "Muat ulang halaman" in no_token.get_data(as_text=True)
    assert "CSRF token" not in no_token.get_data(as_text=True)
    english(ppid)
    refused = step(ppid, REQ, "perpanjang", days="9", text="")
    text = refused.get_data(as_text=True)
    assert "The number must be between 1 and 7." in text and "This field is required." in text
    assert "Angka harus" not in text


def test_radio_groups_are_choices_not_bullet_lists(app: Flask, ppid: FlaskClient) -> None:
    step(ppid, CPL, "verifikasi")
    page = case_page(ppid, CPL)
    refuse = page[page.index('id="step-tolak"') :]
    assert re.search(r'<fieldset class="choices"><legend>Alasan</legend><ul class="choices" id="tolak-reason">',
                     refuse)  # fmt: skip
    assert "<label>Alasan" not in refuse  # no label wrapped around a group of labels
    served = ppid.get("/bo-static/backoffice.css")
    css = served.get_data(as_text=True)
    served.close()
    rule = re.search(r"ul\.choices \{([^}]*)\}", css)
    assert rule and "list-style: none" in rule.group(1) and "display: flex" in rule.group(1)
