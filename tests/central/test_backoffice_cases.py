"""The back office's work on citizens' submissions, with the Flask test client, on SQLite and PostgreSQL:
the inbox, each kind's steps as the law names them, personal data only on an audited show, and every status
change flowing down to the kiosk through the changes feed."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from io import BytesIO
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from gateway import regno
from gateway.sample_content import make_pdf
from sync.central.backoffice.models import audit
from tests.central.conftest import T0, Clock, Gateway, central_of
from tests.central.officers import citizen, logged_in, post, token

DAY = 86_400
AT = int(T0 * 1000)  # Monday 2026-11-23, 23:00 WIB
REQ = "DMK-WONOSALAM-261123-00016"
CPL = "DMK-WONOSALAM-261123-00027"
OBJ = "DMK-WONOSALAM-261123-00034"


@pytest.fixture
def filed(app: Flask, gateway: Gateway) -> Gateway:
    """A request, a complaint and an objection against the request, as the kiosk sends them."""
    records = [citizen(1, "request", REQ, AT), citizen(2, "complaint", CPL, AT),
               citizen(3, "objection", OBJ, AT, nomor_permohonan=REQ)]  # fmt: skip
    assert gateway.send("submissions", records).json == {"stream": "submissions", "acked": 3}
    return gateway


@pytest.fixture
def ppid(app: Flask) -> FlaskClient:
    client = logged_in(app, "ppid1", "ppid")
    return client


def add_opd(app: Flask, code: str) -> None:
    from sync.central.backoffice import accounts

    accounts.save_opd(central_of(app).engine, code, code.upper())


def kiosk_view(gateway: Gateway, number: str) -> dict[str, Any]:
    """What the kiosk learns of a submission from the changes feed."""
    changes = gateway.get("/api/v1/changes?limit=1000").json["changes"]
    found = [c["data"] for c in changes if c["kind"] == "submission" and c["id"] == number]
    assert found, f"no change for {number}"
    return found[-1]


def case_page(client: FlaskClient, number: str) -> str:
    return client.get(f"/berkas/dmk-wonosalam/{number}").get_data(as_text=True)


def step(client: FlaskClient, number: str, name: str, **data: Any) -> Any:
    return post(
        client, f"/berkas/dmk-wonosalam/{number}/{name}", data, page=f"/berkas/dmk-wonosalam/{number}"
    )


def audit_rows(app: Flask) -> list[dict[str, Any]]:
    with central_of(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(audit).order_by(audit.c.id)).mappings()]


def test_inbox_lists_every_submission_without_personal_data(filed: Gateway, ppid: FlaskClient) -> None:
    page = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert REQ in page and CPL in page and OBJ in page and "3 berkas" in page
    assert "Siti" not in page and "3321014507800001" not in page and "0812" not in page
    assert "2026-12-07" in page  # the request: 10 working days after Monday 2026-11-23
    assert "2026-11-26" in page  # the complaint: verified within 3 working days


def test_a_new_case_opens_from_its_link_before_anyone_opened_the_inbox(
    filed: Gateway, ppid: FlaskClient
) -> None:
    page = ppid.get(f"/berkas/dmk-wonosalam/{REQ}")
    assert page.status_code == 200 and REQ in page.get_data(as_text=True)


def test_request_verify_assign_extend_answer_close(app: Flask, filed: Gateway, ppid: FlaskClient) -> None:
    add_opd(app, "dinkes")
    pelaksana = logged_in(app, "pel1", "pelaksana", "dinkes")
    other = logged_in(app, "pel2", "pelaksana", "dispu")
    ppid.get("/kotak-masuk")
    assert pelaksana.get(f"/berkas/dmk-wonosalam/{REQ}").status_code == 404  # not assigned yet
    assert step(ppid, REQ, "verifikasi").status_code == 302
    assert kiosk_view(filed, REQ)["status"] == "in-progress"
    assert step(ppid, REQ, "disposisi", opd="dinkes", text="Mohon disiapkan").status_code == 302
    assert REQ in pelaksana.get("/kotak-masuk").get_data(as_text=True)
    assert REQ not in other.get("/kotak-masuk").get_data(as_text=True)
    assert other.get(f"/berkas/dmk-wonosalam/{REQ}").status_code == 404
    assert step(pelaksana, REQ, "perpanjang", days="8", text="Dokumen di arsip").status_code == 400
    assert step(pelaksana, REQ, "perpanjang", days="5", text="Dokumen di arsip").status_code == 302
    assert kiosk_view(filed, REQ) | {} == {
        **kiosk_view(filed, REQ),
        "status": "extended",
        "due_date": "2026-12-14",
    }
    assert step(pelaksana, REQ, "perpanjang", days="2", text="lagi").status_code == 409  # only once
    refused = {"held": "ya", "decision": "ditolak", "form_of": "softcopy", "medium": "email", "text": "Maaf."}
    assert step(pelaksana, REQ, "jawab", **refused).status_code == 400  # a refusal names Ps. 17 and the test
    answer = {"held": "ya", "decision": "sebagian", "exemption": "h", "consequence": "Memuat data pribadi.",
              "form_of": "softcopy", "medium": "email", "cost": "0", "text": "Terlampir salinan APBDes."}  # fmt: skip
    assert step(pelaksana, REQ, "jawab", **answer).status_code == 302
    seen = kiosk_view(filed, REQ)
    assert seen["status"] == "answered" and "sebagian" in seen["answer"] and "huruf h" in seen["answer"]
    assert seen["answered_at"].startswith("2026-11-23")
    assert step(pelaksana, REQ, "selesai").status_code == 403
    assert step(ppid, REQ, "selesai").status_code == 302
    assert kiosk_view(filed, REQ)["status"] == "closed"
    actions = [(r["username"], r["action"]) for r in audit_rows(app) if r["target"].endswith(REQ)]
    assert actions == [("ppid1", "verify"), ("ppid1", "assign"), ("pel1", "extend"), ("pel1", "answer"),
                       ("ppid1", "close")]  # fmt: skip
    extend = next(r for r in audit_rows(app) if r["action"] == "extend")
    assert json.loads(extend["before"]) == {
        "due_date": "2026-12-07",
        "extended": False,
        "details": {
            "log": [
                {"action": "verifikasi", "on": "2026-11-23", "text": ""},  # the history is whole
                {"action": "disposisi", "on": "2026-11-23", "text": "dinkes: Mohon disiapkan"},
            ]
        },
    }
    assert json.loads(extend["after"])["due_date"] == "2026-12-14"


def _upload(
    client: FlaskClient, number: str, name: str, data: bytes, step: str = "lampiran", **fields: Any
) -> Any:
    page = f"/berkas/dmk-wonosalam/{number}"
    form = {**fields, "csrf_token": token(client, page), "attachment": (BytesIO(data), name)}
    return client.post(f"{page}/{step}", data=form, content_type="multipart/form-data")


ANSWER = {"held": "ya", "decision": "penuh", "form_of": "softcopy", "medium": "anjungan", "cost": "0",
          "text": "Silakan ambil salinan."}  # fmt: skip


def test_answer_with_a_pdf_attachment_officers_open_it_and_the_kiosk_is_told(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    pdf = make_pdf([["APBDes 2025"]], "APBDes 2025")
    ppid.get("/kotak-masuk")
    step(ppid, REQ, "verifikasi")
    assert _upload(ppid, REQ, "apbdes.pdf", pdf, "jawab", **ANSWER).status_code == 302
    page = case_page(ppid, REQ)
    link = re.search(r'href="(/berkas/dmk-wonosalam/[^"]+/lampiran/\d+)">apbdes.pdf</a>', page)
    assert link, page
    with ppid.get(link.group(1)) as served:  # the officers open it, audited like a view
        assert served.status_code == 200 and served.data == pdf and served.mimetype == "application/pdf"
    (entry,) = [r for r in audit_rows(app) if r["action"] == "view-attachment"]
    assert entry["username"] == "ppid1" and json.loads(entry["after"])["filename"] == "apbdes.pdf"
    assert logged_in(app, "pel9", "pelaksana", "dinkes").get(link.group(1)).status_code == 404  # not its OPD
    assert logged_in(app, "tek9", "teknisi").get(link.group(1)).status_code == 403
    seen = kiosk_view(filed, REQ)  # the citizen's kiosk gets the list and can fetch the bytes
    sha256 = hashlib.sha256(pdf).hexdigest()
    assert seen["attachments"] == [{"name": "apbdes.pdf", "sha256": sha256, "size": len(pdf)}]
    assert filed.get(f"/api/v1/files/{sha256}").data == pdf


def test_attachments_are_real_pdfs_of_bounded_size_and_only_before_the_answer(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    pdf = make_pdf([["Lampiran"]], "Lampiran")
    ppid.get("/kotak-masuk")
    step(ppid, REQ, "verifikasi")
    refused = {
        "not a pdf": b"MZ\x90\x00 executable",
        "only the header": b"%PDF-1.4\n%%EOF\n",
        "a zip glued after the end": pdf + b"PK\x03\x04" + b"\x00" * 200,
        "html glued after the end": pdf + b"<html><script>alert(1)</script></html>",
    }
    for what, data in refused.items():
        answer = _upload(ppid, REQ, "x.pdf", data)
        assert answer.status_code == 400 and "<!doctype html>" in answer.get_data(as_text=True).lower(), what
    app.config["MAX_CONTENT_LENGTH"] = 256 << 10  # (a small limit: a test-client body stays in memory)
    with _upload(ppid, REQ, "besar.pdf", pdf + b"%" + b"0" * (300 << 10) + b"\n%%EOF\n") as big:
        assert big.status_code == 413 and big.mimetype == "text/html"
        assert "Berkas terlalu besar" in big.get_data(as_text=True)
    assert _upload(ppid, REQ, "ok.pdf", pdf).status_code == 302
    assert step(ppid, REQ, "jawab", **ANSWER).status_code == 302
    assert _upload(ppid, REQ, "late.pdf", pdf).status_code == 409  # the citizen has the answer already
    assert step(ppid, REQ, "selesai").status_code == 302
    assert _upload(ppid, REQ, "later.pdf", pdf).status_code == 409
    assert [a["name"] for a in kiosk_view(filed, REQ)["attachments"]] == ["ok.pdf"]


def test_the_kiosk_learns_the_current_deadline_and_what_it_is_for(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    ppid.get("/kotak-masuk")
    step(ppid, REQ, "verifikasi")
    step(ppid, REQ, "perpanjang", days="3", text="Arsip di gudang")
    assert (kiosk_view(filed, REQ)["due_date"], kiosk_view(filed, REQ)["due_kind"]) == (
        "2026-12-10",
        "answer",
    )
    step(ppid, REQ, "jawab", **ANSWER)
    seen = kiosk_view(filed, REQ)  # answered: still the extended deadline (it was the first one before)
    assert (seen["status"], seen["due_date"], seen["due_kind"]) == ("answered", "2026-12-10", "answer")
    step(ppid, CPL, "verifikasi")
    assert kiosk_view(filed, CPL)["due_kind"] == "follow-up"
    step(ppid, CPL, "tanggapi", text="Sudah ditambal.")
    seen = kiosk_view(filed, CPL)  # the day it closes by itself, not an answer's deadline
    assert (seen["due_kind"], seen["due_date"]) == ("auto-close", "2026-12-07")
    step(ppid, CPL, "selesai")
    assert kiosk_view(filed, CPL)["due_kind"] == "none"


def test_personal_data_only_on_an_audited_show(app: Flask, filed: Gateway, ppid: FlaskClient) -> None:
    ppid.get("/kotak-masuk")
    assert "3321014507800001" not in case_page(ppid, REQ)
    shown = step(ppid, REQ, "identitas").get_data(as_text=True)
    assert "3321014507800001" in shown and "Siti Aminah" in shown
    (entry,) = [r for r in audit_rows(app) if r["action"] == "view-personal"]
    assert entry["username"] == "ppid1" and entry["target"] == f"dmk-wonosalam/{REQ}"
    teknisi = logged_in(app, "tek1", "teknisi")
    assert step(teknisi, REQ, "identitas").status_code == 403


def test_anonymous_complaint_never_shows_an_identity(app: Flask, gateway: Gateway, ppid: FlaskClient) -> None:
    number = "DMK-WONOSALAM-261123-00042"
    gateway.send("submissions", [citizen(1, "complaint", number, AT, anonim=True, rahasia=True)])
    page = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert "anonim" in page and "rahasia" in page
    assert step(ppid, number, "identitas").status_code == 403
    assert "identitas pelapor tidak disimpan" in case_page(ppid, number)


def test_complaint_stages_refuse_defer_respond_and_close_by_itself(
    app: Flask, filed: Gateway, ppid: FlaskClient, clock: Clock
) -> None:
    add_opd(app, "dispu")
    dup = "DMK-WONOSALAM-261123-00050"
    filed.send("submissions", [citizen(4, "complaint", dup, AT)])
    ppid.get("/kotak-masuk")
    assert step(ppid, dup, "tolak", reason="duplikat", duplicate_of="NOPE", text="Sama").status_code == 400
    assert (
        step(ppid, dup, "tolak", reason="duplikat", duplicate_of=CPL, text="Sudah dilaporkan").status_code
        == 302
    )
    assert kiosk_view(filed, dup)["status"] == "rejected"
    assert step(ppid, CPL, "verifikasi").status_code == 302
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-30"  # follow-up: 5 working days
    assert step(ppid, CPL, "tunda", text="Menunggu foto lokasi").status_code == 302
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-30"  # the deadline keeps running
    assert step(ppid, CPL, "disposisi", opd="dispu", text="").status_code == 302
    pelaksana = logged_in(app, "pu1", "pelaksana", "dispu")
    assert step(pelaksana, CPL, "tanggapi", text="Lubang ditambal hari Kamis.").status_code == 302
    seen = kiosk_view(filed, CPL)
    assert seen["status"] == "answered" and seen["answer"] == "Lubang ditambal hari Kamis."
    app.config["BACKOFFICE_IDLE_SECONDS"] = 60 * DAY
    clock.now += 15 * DAY  # past 10 working days after the reply with no answer from the citizen
    ppid.get("/kotak-masuk")
    assert kiosk_view(filed, CPL)["status"] == "closed"
    assert any(r["action"] == "auto-close" and r["username"] == "sistem" for r in audit_rows(app))


def test_objection_beside_its_request_decided_by_the_atasan(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    atasan = logged_in(app, "atasan1", "atasan")
    inbox = atasan.get("/kotak-masuk").get_data(as_text=True)
    assert OBJ in inbox and CPL not in inbox
    page = case_page(atasan, OBJ)
    # 30 working days: cuti bersama 24 Dec, Christmas, New Year and Isra Mi'raj (5 Jan 2027) are days off
    assert f'href="/berkas/dmk-wonosalam/{REQ}"' in page and "2027-01-08" in page
    assert "Permohonan" in case_page(atasan, REQ)  # the linked request is readable beside it
    assert step(ppid, OBJ, "putus", decision="diterima", text="x").status_code == 403
    assert (
        step(atasan, OBJ, "putus", decision="diterima", text="Informasi wajib diberikan.").status_code == 302
    )
    seen = kiosk_view(filed, OBJ)
    assert seen["status"] == "answered" and seen["answer"].startswith("Keberatan diterima.")


def test_inbox_filters_search_sort_paging_and_deadlines(
    app: Flask, gateway: Gateway, ppid: FlaskClient, clock: Clock
) -> None:
    records = [citizen(i, "complaint" if i % 2 else "request", regno.make("dmk-wonosalam", date(2026, 11, 23), i), AT + i,
                       judul=f"Laporan nomor {i}", rincian=f"Rincian nomor {i}") for i in range(1, 61)]  # fmt: skip
    records.append(citizen(61, "complaint", "DMK-WONOSALAM-261123-99999", AT, judul="Banjir di Dusun Kidul",
                           kategori="banjir"))  # fmt: skip
    gateway.send("submissions", records)
    first = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert "61 berkas, halaman 1 dari 2" in first
    assert "DMK-WONOSALAM-261123-00600" in first  # newest first
    assert "DMK-WONOSALAM-261123-00016" in ppid.get("/kotak-masuk?page=2").get_data(as_text=True)
    found = ppid.get("/kotak-masuk?q=banjir+kidul").get_data(as_text=True)
    assert "1 berkas" in found and "99999" in found
    assert "30 berkas" in ppid.get("/kotak-masuk?kind=request").get_data(as_text=True)
    assert "1 berkas" in ppid.get("/kotak-masuk?category=banjir").get_data(as_text=True)
    by_due = ppid.get("/kotak-masuk?sort=tenggat").get_data(as_text=True)
    assert by_due.index("99999") < by_due.index("00027")  # complaints (3 days) come before requests (10)
    app.config["BACKOFFICE_IDLE_SECONDS"] = 60 * DAY
    clock.now += 2 * DAY  # Wednesday 25th: complaints due Thursday 26th are due soon
    soon = ppid.get("/kotak-masuk?due=segera").get_data(as_text=True)
    assert "31 berkas" in soon and 'class="soon"' in soon
    clock.now += 2 * DAY  # Friday 27th: the complaints' verification is overdue
    late = ppid.get("/kotak-masuk?due=terlambat").get_data(as_text=True)
    assert "31 berkas" in late and "terlambat 1 hari kerja" in late and 'class="overdue"' in late


def test_local_days_off_from_the_settings_page_push_new_deadlines(app: Flask, gateway: Gateway) -> None:
    admin = logged_in(app, "admin1", "admin")
    answer = post(
        admin, "/pengaturan/libur", {"day": "2026-12-01", "name": "Hari jadi kabupaten"}, "/pengaturan"
    )
    assert answer.status_code == 302 and "Hari jadi kabupaten" in admin.get("/pengaturan").get_data(
        as_text=True
    )
    gateway.send("submissions", [citizen(1, "request", REQ, AT)])
    page = logged_in(app, "ppid1", "ppid").get("/kotak-masuk").get_data(as_text=True)
    assert (
        "2026-12-08" in page
    )  # 10 working days after 23 November, the local day off skipped (else 7 December)
    assert any(r["action"] == "day-off-add" for r in audit_rows(app))


def test_only_the_atasan_ends_an_objection_and_only_by_deciding_it(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    """UU 14/2008 Ps. 35-36: an objection is closed by the Atasan PPID's decision, never by the PPID."""
    atasan = logged_in(app, "atasan1", "atasan")
    ppid.get("/kotak-masuk")
    assert "Tutup (selesai)" not in case_page(ppid, OBJ)
    assert step(ppid, OBJ, "selesai").status_code == 403  # the PPID cannot close an undecided objection
    assert "Tutup (selesai)" not in case_page(atasan, OBJ)
    assert step(atasan, OBJ, "selesai").status_code == 409  # nor the atasan without a decision
    assert kiosk_view_or_none(filed, OBJ) is None  # nothing went down to the kiosk
    assert step(atasan, OBJ, "putus", decision="ditolak", text="Informasi dikecualikan.").status_code == 302
    assert step(ppid, OBJ, "selesai").status_code == 403  # decided: still the atasan's
    assert step(atasan, OBJ, "selesai").status_code == 302
    seen = kiosk_view(filed, OBJ)
    assert seen["status"] == "closed" and seen["answer"].startswith("Keberatan ditolak.")


def kiosk_view_or_none(gateway: Gateway, number: str) -> dict[str, Any] | None:
    changes = gateway.get("/api/v1/changes?limit=1000").json["changes"]
    found = [c["data"] for c in changes if c["kind"] == "submission" and c["id"] == number]
    return found[-1] if found else None


def test_an_anonymous_complaint_keeps_no_identity_even_if_a_gateway_sends_one(
    app: Flask, gateway: Gateway, ppid: FlaskClient
) -> None:
    from sync.central import service

    number = "DMK-WONOSALAM-261123-00075"
    record = citizen(1, "complaint", number, AT, anonim=True)
    record["personal"] = {"nama": "Siti Aminah", "nik": "3321014507800001"}  # a faulty gateway
    assert gateway.send("submissions", [record]).status_code == 200
    exported = list(service.export_submissions(central_of(app).engine, include_personal=True))
    assert exported[0]["personal"] is None
    ppid.get("/kotak-masuk")
    assert step(ppid, number, "identitas").status_code == 403


def test_an_extension_after_the_first_deadline_is_refused(
    app: Flask, filed: Gateway, ppid: FlaskClient, clock: Clock
) -> None:
    """UU 14/2008 Ps. 22(8): the extension is notified within the 10 working days (due 7 December)."""
    ppid.get("/kotak-masuk")
    step(ppid, REQ, "verifikasi")
    app.config["BACKOFFICE_IDLE_SECONDS"] = 60 * DAY
    clock.now += 14 * DAY  # Monday 7 December: the last day, still allowed ...
    assert 'action="/berkas/dmk-wonosalam/' + REQ + '/perpanjang"' in case_page(ppid, REQ)
    clock.now += DAY  # ... Tuesday 8 December: too late
    assert 'action="/berkas/dmk-wonosalam/' + REQ + '/perpanjang"' not in case_page(ppid, REQ)
    assert step(ppid, REQ, "perpanjang", days="3", text="Terlambat").status_code == 409
    clock.now -= DAY
    assert step(ppid, REQ, "perpanjang", days="3", text="Arsip di gudang").status_code == 302


def test_the_atasan_sees_the_objection_filers_identity_only(app: Flask, filed: Gateway) -> None:
    """An objection may name another citizen's request: its requester's identity stays closed to the atasan."""
    atasan = logged_in(app, "atasan1", "atasan")
    atasan.get("/kotak-masuk")
    assert "Tampilkan identitas" not in case_page(atasan, REQ)
    assert step(atasan, REQ, "identitas").status_code == 403
    assert "Siti Aminah" in step(atasan, OBJ, "identitas").get_data(as_text=True)
    assert [r["target"] for r in audit_rows(app) if r["action"] == "view-personal"] == [
        f"dmk-wonosalam/{OBJ}"
    ]
