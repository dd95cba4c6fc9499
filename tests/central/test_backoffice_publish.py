"""Publishing from the back office reaches the kiosks through the downlink: DIP entries, PDF documents,
announcements; for all kiosks or chosen ones; edits and withdrawals flow down too."""

from __future__ import annotations

from io import BytesIO

import sqlalchemy as sa
from flask import Flask

from gateway.sample_content import make_pdf
from sync.central import service
from sync.central.db import content
from tests.central.conftest import Gateway, central_of
from tests.central.officers import CONFIRM, logged_in, post, token

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
    assert (
        post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": "", **CONFIRM}, "/publikasi").status_code
        == 302
    )
    assert [c["op"] for c in changes(gateway) if c["kind"] == "dip"] == ["delete"]
    assert (
        post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": "", **CONFIRM}, "/publikasi").status_code
        == 404
    )
    assert logged_in(app, "pel", "pelaksana", "dinkes").get("/publikasi").status_code == 403


def test_withdrawing_asks_first_and_keeps_csrf(app: Flask, gateway: Gateway) -> None:
    ppid = logged_in(app, "ppid1", "ppid")
    assert post(ppid, "/publikasi/dip", DIP, "/publikasi").status_code == 302
    listing = ppid.get("/publikasi").get_data(as_text=True)
    assert 'href="/publikasi/dip/dip-apbdes-2026/tarik?scope="' in listing
    assert 'action="/publikasi/dip/dip-apbdes-2026/tarik"' not in listing  # no one-click withdrawal
    asked = ppid.get("/publikasi/dip/dip-apbdes-2026/tarik?scope=").get_data(as_text=True)
    assert (
        "Tarik entri DIP ini dari anjungan?" in asked and "APBDes 2026" in asked and "semua anjungan" in asked
    )
    assert 'name="konfirmasi" value="ya"' in asked and 'name="csrf_token"' in asked
    unconfirmed = post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": ""}, "/publikasi")
    assert unconfirmed.status_code == 200 and "Ya, tarik" in unconfirmed.get_data(as_text=True)
    assert ppid.post("/publikasi/dip/dip-apbdes-2026/tarik", data={"scope": "", **CONFIRM}).status_code == 400
    assert [c["op"] for c in changes(gateway) if c["kind"] == "dip"] == ["upsert"]  # still published
    assert (
        post(ppid, "/publikasi/dip/dip-apbdes-2026/tarik", {"scope": "", **CONFIRM}, "/publikasi").status_code
        == 302
    )
    assert [c["op"] for c in changes(gateway) if c["kind"] == "dip"] == ["delete"]
    assert ppid.get("/publikasi/dip/dip-apbdes-2026/tarik?scope=").status_code == 404  # withdrawn already


def test_only_active_kiosks_are_offered_as_targets(app: Flask, gateway: Gateway) -> None:
    state = central_of(app)
    service.add_gateway(state.engine, state.master_key, "dmk-krajan")
    service.add_gateway(state.engine, state.master_key, "dmk-lama")
    service.remove_gateway(state.engine, "dmk-lama")
    ppid = logged_in(app, "ppid1", "ppid")
    page = ppid.get("/publikasi").get_data(as_text=True)
    assert '<option value="dmk-krajan">' in page and '<option value="dmk-wonosalam">' in page
    assert "dmk-lama" not in page
    refused = post(ppid, "/publikasi/dip", {**DIP, "gateways": ["dmk-lama"]}, "/publikasi")
    assert (
        refused.status_code == 400
        and "&#39;dmk-lama&#39; bukan pilihan yang dikenal." in refused.get_data(as_text=True)
    )
    with state.engine.connect() as conn:
        scopes = conn.execute(sa.select(content.c.scope).where(content.c.kind == "dip")).scalars().all()
    assert scopes == []
