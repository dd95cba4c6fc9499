"""A citizen's submission end to end: kiosk form -> store -> uplink -> central -> officer's answer ->
downlink -> the kiosk's status page; the kiosk keeps no personal data once the central has it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway import config as config_mod
from gateway.store import Store
from kiosk.app import close_app, create_app
from sync.central import service
from sync.client import SyncClient
from tests.kiosk.helpers import complaint_data, number_on, post, request_data
from tests.sync.conftest import CentralHandle

KIOSK_TEST_CONFIG = {"TESTING": True, "KIOSK_PAGE_CACHE_SECONDS": 0.0}


def test_citizen_submissions_reach_the_central_and_the_answer_comes_back(
    central: CentralHandle, gateway_config: Path, store: Store, make_client: Callable[..., SyncClient]
) -> None:
    app = create_app(config_mod.load(gateway_config, env={}), KIOSK_TEST_CONFIG)
    try:
        kiosk = app.test_client()
        request_number = number_on(post(kiosk, "/permohonan", request_data()))
        complaint_number = number_on(post(kiosk, "/pengaduan", complaint_data()))

        client = make_client()
        client.round()
        assert store.backlog()["submissions"]["pending"] == 0
        assert store.backlog()["submissions"]["dead_letters"] == 0
        at_central = {s["number"]: s for s in central.submissions()}
        assert set(at_central) == {request_number, complaint_number}
        assert at_central[request_number]["kind"] == "request"
        assert at_central[complaint_number]["kind"] == "complaint"
        assert at_central[request_number]["personal"]["nik"] == request_data()["nik"]
        personal = store.conn.execute(
            "SELECT count(*) FROM submissions WHERE personal IS NOT NULL"
        ).fetchone()
        assert personal[0] == 0  # purged at the kiosk once the central acknowledged it

        service.set_submission_status(
            central.state.engine, central.gateway_id, request_number, "answered",
            answer="Salinan laporan dapat diambil di kantor kecamatan.",
        )  # fmt: skip
        client.round()
        page = kiosk.get(f"/status/{request_number}").get_data(as_text=True)
        assert "Sudah dijawab" in page
        assert "Salinan laporan dapat diambil di kantor kecamatan." in page
        assert request_data()["nik"] not in page and request_data()["nama"] not in page
    finally:
        close_app(app)
