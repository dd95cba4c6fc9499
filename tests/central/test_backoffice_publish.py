"""Publishing from the back office reaches the kiosks through the downlink: DIP entries, PDF documents,
announcements; for all kiosks or chosen ones; edits and withdrawals flow down too."""

from __future__ import annotations

from io import BytesIO

from flask import Flask

from gateway.sample_content import make_pdf
from sync.central import service
from tests.central.conftest import Gateway, central_of
from tests.central.officers import logged_in, post, token

DIP = {"item_id": "dip-apbdes-2026", "title": "APBDes 2026", "summary": "Anggaran desa tahun 2026",
       "unit": "Sekretariat Desa", "responsible": "PPID Desa", "made": "Januari 2026, Balai Desa",
       "formats": ["softcopy", "hardcopy"], "retention": "10 tahun", "category": "berkala"}  # fmt: skip


def changes(gateway: Gateway) -> list[dict]:
    return gateway.get("/api/v1/changes?limit=1000").json["changes"]


def test_dip_document_announcement_edit_and_withdraw(app: Flask, gateway: Gateway) -> None:
    state = central_of(app)
    other = service.add_gateway(state.engine, state.master_key, "dmk-krajan")["gateway_id"]
    ppid = logged_in(app, "ppid1", "ppid")
    assert post(ppid, "/publikasi/dip", {**DIP, "category": "dikecualikan"}, "/publikasi").status_code == 400
    assert post(ppid, "/publikasi/dip", DIP, "/publikasi").status_code == 302
    (dip,) = [c for c in changes(gateway) if c["kind"] == "dip"]
    assert dip["id"] == "dip-apbdes-2026" and dip["data"]["formats"] == ["softcopy", "hardcopy"]
    assert dip["data"]["unit"] == "Sekretariat Desa" and dip["data"]["category"] == "berkala"

    pdf = make_pdf([["Peraturan Desa tentang APBDes"]], "Perdes APBDes")
    data = {
        "title": "Perdes APBDes",
        "csrf_token": token(ppid, "/publikasi"),
        "file": (BytesIO(pdf), "perdes.pdf"),
    }
    assert ppid.post("/publikasi/dokumen", data=data, content_type="multipart/form-data").status_code == 302
    (doc,) = [c for c in changes(gateway) if c["kind"] == "document"]
    assert gateway.get(f"/api/v1/files/{doc['id']}").data == pdf

    notice = {"item_id": "banjir-krajan", "title": "Siaga banjir", "body": "Air Sungai Krajan naik.",
              "starts": "2026-11-23", "ends": "2026-11-30", "urgent": "y", "gateways": [other]}  # fmt: skip
    assert post(ppid, "/publikasi/pengumuman", notice, "/publikasi").status_code == 302
    assert not [c for c in changes(gateway) if c["kind"] == "announcement"]  # only the chosen kiosk gets it
    page = ppid.get(f"/publikasi/announcement/banjir-krajan/pratinjau?scope={other}").get_data(as_text=True)
    assert "Siaga banjir" in page and 'class="alert"' in page
    edit = ppid.get("/publikasi?ubah=dip/dip-apbdes-2026/").get_data(as_text=True)
    assert "Anggaran desa tahun 2026" in edit
    assert (
        post(ppid, "/publikasi/dip", {**DIP, "title": "APBDes 2026 (perubahan)"}, "/publikasi").status_code
        == 302
    )
    assert [c["data"]["title"] for c in changes(gateway) if c["kind"] == "dip"] == ["APBDes 2026 (perubahan)"]
    assert post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": ""}, "/publikasi").status_code == 302
    assert [c["op"] for c in changes(gateway) if c["kind"] == "dip"] == ["delete"]
    assert post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": ""}, "/publikasi").status_code == 404
    assert logged_in(app, "pel", "pelaksana", "dinkes").get("/publikasi").status_code == 403
