"""A status check at any kiosk of the regency: kiosk A takes a request, the central answers it, and at kiosk B
the number shows its status, and with the receipt's status code also the answer, relayed by B's sync process.
Only the code's hash travels to and stays at the central."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from gateway import config as config_mod
from gateway import regno, statuscode
from gateway.store import Store
from kiosk.app import close_app, create_app
from sync import protocol
from sync.central import service
from sync.central.db import submissions
from sync.client import SyncClient
from sync.client.lookup import LookupRelay, status_lookup
from sync.client.transport import Central
from tests.kiosk.helpers import number_on, post, request_data
from tests.sync.conftest import CentralHandle, write_config

ANSWER = "Salinan dapat diambil. Hubungi Siti Aminah di 081234567890, Jl. Kalianyar 3."
KIOSK_TEST_CONFIG = {"TESTING": True, "KIOSK_PAGE_CACHE_SECONDS": 0.0, "KIOSK_LOOKUP_WAIT_SECONDS": 20.0}


def _code_on(page: str) -> str:
    match = re.search(r'id="receipt-code">([0-9A-Z-]+)<', page)
    assert match, "no status code on the receipt"
    return match.group(1)


@pytest.fixture
def kiosk_a(gateway_config: Path) -> Iterator[Flask]:
    app = create_app(config_mod.load(gateway_config, env={}), KIOSK_TEST_CONFIG)
    yield app
    close_app(app)


@pytest.fixture
def kiosk_b(tmp_path: Path, central: CentralHandle) -> Iterator[tuple[Flask, Store, Central]]:
    """A second kiosk of the regency with its own store and credentials, and its sync process's relay."""
    issued = service.add_gateway(central.state.engine, central.state.master_key, "gw-b")
    (tmp_path / "b").mkdir()
    config = write_config(tmp_path / "b", central.url, issued["gateway_id"], issued["secret"])
    cfg = config_mod.load(config, env={})
    store = Store.from_config(cfg)
    link = Central(central.url, issued["gateway_id"], issued["secret"], now=central.clock, timeout_s=10)
    stop = threading.Event()
    relay = threading.Thread(target=LookupRelay(store, link, stop).run, name="relay-b")
    relay.start()
    app = create_app(cfg, KIOSK_TEST_CONFIG)
    try:
        yield app, store, link
    finally:
        stop.set()
        relay.join(10)
        close_app(app)
        link.close()
        store.close()


def test_a_number_of_another_kiosk_with_and_without_its_code(
    central: CentralHandle, kiosk_a: Flask, kiosk_b: tuple[Flask, Store, Central],
    make_client: Callable[..., SyncClient], store: Store,
) -> None:  # fmt: skip
    citizen = kiosk_a.test_client()
    number = number_on(post(citizen, "/permohonan", request_data()))
    code = _code_on(citizen.get(f"/tanda-terima/{number}").get_data(as_text=True))
    make_client().round()
    service.set_submission_status(central.state.engine, central.gateway_id, number, "answered", answer=ANSWER)

    with central.state.engine.connect() as conn:  # the central keeps the hash, never the code
        row = conn.execute(sa.select(submissions).where(submissions.c.number == number)).mappings().one()
    assert row["access_hash"] == statuscode.access_hash(number, code.replace("-", ""))
    assert not any(code.replace("-", "") in str(value) for value in row.values())

    app_b, _store_b, _link = kiosk_b
    stranger = app_b.test_client()
    page = stranger.get(f"/status/{number}").get_data(as_text=True)
    assert "Sudah dijawab" in page and ANSWER not in page and "081234567890" not in page
    wrong = statuscode.grouped(statuscode.new_code())
    page = post(stranger, "/status", {"nomor": number, "kode": wrong}).get_data(as_text=True)
    assert "tidak cocok" in page and ANSWER not in page
    response = post(stranger, "/status", {"nomor": number, "kode": code.lower().replace("-", " ")})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and ANSWER in page and "Sudah dijawab" in page
    assert request_data()["nik"] not in page


def test_a_number_the_central_does_not_know(kiosk_b: tuple[Flask, Store, Central]) -> None:
    app_b, _store, _link = kiosk_b
    number = regno.make("gw-x", date(2025, 2, 3), 7)
    response = app_b.test_client().get(f"/status/{number}")
    assert response.status_code == 404 and "belum ada di anjungan ini" in response.get_data(as_text=True)


def test_lookup_answers_offline_when_the_central_is_down(tmp_path: Path, central: CentralHandle) -> None:
    (tmp_path / "c").mkdir()
    config = write_config(tmp_path / "c", "http://127.0.0.1:9", "gw-c", "x" * 43)  # nobody listens on port 9
    cfg = config_mod.load(config, env={})
    with Store.from_config(cfg) as store:
        link = Central("http://127.0.0.1:9", "gw-c", "x" * 43, now=central.clock, timeout_s=2)
        stop = threading.Event()
        relay = threading.Thread(target=LookupRelay(store, link, stop).run, name="relay-c")
        relay.start()
        app = create_app(cfg, KIOSK_TEST_CONFIG)
        try:
            number = regno.make("gw-x", date(2025, 2, 3), 7)
            response = app.test_client().get(f"/status/{number}")
            assert response.status_code == 404
            assert "tidak dapat dihubungi" in response.get_data(as_text=True)
            assert store.conn.execute("SELECT count(*) FROM status_lookups").fetchone()[0] == 0
        finally:
            stop.set()
            relay.join(10)
            close_app(app)
            link.close()


def test_the_central_rate_limits_lookups_per_number(central: CentralHandle, store: Store) -> None:
    link = Central(central.url, central.gateway_id, central.secret, now=central.clock, timeout_s=10)
    try:
        answers = [status_lookup(link, "GW-TEST-250203-00017", None) for _ in range(10)]
        assert all(a == {"number": "GW-TEST-250203-00017", "found": False} for a in answers)
        from sync.client.errors import TransientError

        with pytest.raises(TransientError) as refused:
            status_lookup(link, "GW-TEST-250203-00017", None)
        assert refused.value.retry_after is not None and refused.value.retry_after > 0
        assert (
            status_lookup(link, "GW-TEST-250203-00025", None)["found"] is False
        )  # another number still answers
    finally:
        link.close()


def test_status_lookup_body_is_checked() -> None:
    assert protocol.decode_status_lookup(protocol.encode_status_lookup("A-1", None)) == ("A-1", None)
    for bad in (b"[]", b'{"number": 5}', b'{"number": "x", "code": 7}', b'{"number": ""}', b"{"):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_status_lookup(bad)
