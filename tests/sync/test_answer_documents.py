"""An officer's answer with its documents and its deadline, end to end: back office -> changes feed and files
downlink -> the kiosk's status page, where the documents open only with the status code (docs/backoffice.md)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from gateway import config as config_mod
from gateway.sample_content import make_pdf
from gateway.store import Store
from kiosk.app import close_app, create_app
from sync.client import SyncClient
from tests.central.officers import logged_in, token
from tests.kiosk.helpers import complaint_data, csrf, number_on, post, request_data
from tests.sync.conftest import CentralHandle

KIOSK_TEST_CONFIG = {"TESTING": True, "KIOSK_PAGE_CACHE_SECONDS": 0.0}
CODE_RE = re.compile(r'id="receipt-code">([0-9A-Z-]+)<')


def test_answer_documents_and_the_extended_deadline_reach_the_citizen_with_the_code_only(
    central: CentralHandle, gateway_config: Path, store: Store, make_client: Callable[..., SyncClient]
) -> None:
    app = create_app(config_mod.load(gateway_config, env={}), KIOSK_TEST_CONFIG)
    try:
        citizen = app.test_client()
        number = number_on(post(citizen, "/permohonan", request_data()))
        code = CODE_RE.search(citizen.get(f"/tanda-terima/{number}").get_data(as_text=True))
        assert code
        complaint = number_on(post(citizen, "/pengaduan", complaint_data()))
        client = make_client()
        client.round()

        ppid = logged_in(central.app, "ppid1", "ppid")
        ppid.get("/kotak-masuk")  # cases are made
        case = f"/berkas/{central.gateway_id}/{number}"
        for step, data in (("verifikasi", {}), ("perpanjang", {"days": "3", "text": "Arsip di gudang"})):
            answer = ppid.post(f"{case}/{step}", data={**data, "csrf_token": token(ppid, case)})
            assert answer.status_code == 302, answer.get_data(as_text=True)
        extended = _case_due(ppid, case)
        client.round()
        page = _status_with_code(app.test_client(), number, code.group(1))
        assert f"Batas waktu jawaban</dt><dd>{_long(extended)}" in page

        pdf = make_pdf([["Salinan APBDes 2025", "Halaman 1"]], "APBDes 2025")
        data = {"held": "ya", "decision": "penuh", "form_of": "softcopy", "medium": "anjungan", "cost": "0",
                "text": "Salinan APBDes terlampir.", "csrf_token": token(ppid, case),
                "attachment": (BytesIO(pdf), "apbdes-2025.pdf")}  # fmt: skip
        assert ppid.post(f"{case}/jawab", data=data, content_type="multipart/form-data").status_code == 302
        client.round()  # the status change, then the attachment's bytes

        stranger = app.test_client()  # no code: the status only, never the documents
        page = stranger.get(f"/status/{number}").get_data(as_text=True)
        assert "Sudah dijawab" in page and "apbdes-2025.pdf" not in page and "Lampiran jawaban" not in page
        sha256 = hashlib.sha256(pdf).hexdigest()
        assert stranger.get(f"/status/{number}/lampiran/{sha256}").status_code == 404
        assert stranger.get(f"/dokumen/{sha256}").status_code == 404  # not a public document either

        holder = app.test_client()  # the citizen with the receipt's code
        page = _status_with_code(holder, number, code.group(1))
        assert "Lampiran jawaban" in page and "apbdes-2025.pdf" in page
        assert f"Batas waktu jawaban</dt><dd>{_long(extended)}" in page  # the extended one, not the first
        link = f"/status/{number}/lampiran/{sha256}"
        assert f'href="{link}"' in page
        with holder.get(link) as served:
            assert served.status_code == 200 and served.mimetype == "application/pdf"
            assert served.data == pdf and "no-store" in served.headers["Cache-Control"]

        own = citizen.get(f"/status/{complaint}").get_data(as_text=True)  # the session that filed it
        assert "Batas waktu tindak lanjut" in own and "Batas waktu jawaban" not in own
        complaint_case = f"/berkas/{central.gateway_id}/{complaint}"
        reply = {"text": "Jalan diperbaiki pekan depan.", "csrf_token": token(ppid, complaint_case)}
        assert (
            ppid.post(f"{complaint_case}/verifikasi", data={"csrf_token": reply["csrf_token"]}).status_code
            == 302
        )
        assert ppid.post(f"{complaint_case}/tanggapi", data=reply).status_code == 302
        client.round()
        own = citizen.get(f"/status/{complaint}").get_data(as_text=True)
        assert "Ditutup otomatis bila tidak ada tanggapan pada" in own and "Batas waktu jawaban" not in own
    finally:
        close_app(app)


def _case_due(ppid: object, case: str) -> str:
    page = ppid.get(case).get_data(as_text=True)  # type: ignore[attr-defined]
    found = re.findall(r"20\d\d-\d\d-\d\d", page)
    assert found
    return max(found)  # the extended deadline is the latest date on the page


def _status_with_code(client: object, number: str, code: str) -> str:
    data = {"nomor": number, "kode": code, "csrf_token": csrf(client, "/status")}  # type: ignore[arg-type]
    answer = client.post("/status", data=data)  # type: ignore[attr-defined]
    assert answer.status_code == 200
    return str(answer.get_data(as_text=True))


def _long(iso: str) -> str:
    """A date as the kiosk's status page writes it (DD-MM-YYYY)."""
    year, month, day = iso.split("-")
    return f"{day}-{month}-{year}"
