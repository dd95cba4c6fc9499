"""A status check at any kiosk of the regency: kiosk A takes a request, the central answers it, and at kiosk B
the number shows its status, and with the receipt's status code also the answer, relayed by B's sync process.
Only the code's hash travels to and stays at the central."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

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
from sync.client.transport import CentralLink
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import number_on, post, request_data
from tests.sync.conftest import CentralHandle, write_config

ANSWER = "Salinan dapat diambil. Hubungi Siti Aminah di 081234567890, Jl. Kalianyar 3."
KIOSK_TEST_CONFIG = {"TESTING": True, "KIOSK_PAGE_CACHE_SECONDS": 0.0, "KIOSK_LOOKUP_WAIT_SECONDS": 20.0}


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


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
def kiosk_b(tmp_path: Path, central: CentralHandle) -> Iterator[tuple[Flask, Store, CentralLink]]:
    """A second kiosk of the regency with its own store and credentials, and its sync process's relay."""
    issued = service.add_gateway(central.state.engine, central.state.master_key, "gw-b")
    (tmp_path / "b").mkdir()
    config = write_config(tmp_path / "b", central.url, issued["gateway_id"], issued["secret"])
    cfg = config_mod.load(config, env={})
    store = Store.from_config(cfg)
    link = CentralLink(central.url, issued["gateway_id"], issued["secret"], now=central.clock, timeout_s=10)
    stop = threading.Event()
    relay = threading.Thread(target=LookupRelay(store, link, stop).run, name="relay-b")
    relay.start()
    _wait_for(lambda: store.lookup_relay_running(), "the relay's heartbeat")
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
    central: CentralHandle, kiosk_a: Flask, kiosk_b: tuple[Flask, Store, CentralLink],
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


def test_a_number_the_central_does_not_know(kiosk_b: tuple[Flask, Store, CentralLink]) -> None:
    app_b, _store, _link = kiosk_b
    number = regno.make("gw-x", date(2025, 2, 3), 7)
    response = app_b.test_client().get(f"/status/{number}")
    assert response.status_code == 404 and "belum ada di anjungan ini" in response.get_data(as_text=True)


def test_lookup_answers_offline_when_the_central_is_down(tmp_path: Path, central: CentralHandle) -> None:
    (tmp_path / "c").mkdir()
    config = write_config(tmp_path / "c", "http://127.0.0.1:9", "gw-c", "x" * 43)  # nobody listens on port 9
    cfg = config_mod.load(config, env={})
    with Store.from_config(cfg) as store:
        link = CentralLink("http://127.0.0.1:9", "gw-c", "x" * 43, now=central.clock, timeout_s=2)
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
    link = CentralLink(central.url, central.gateway_id, central.secret, now=central.clock, timeout_s=10)
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


# --- relayed lookups never starve the kiosk -----------------------------------------------------------------


def _get(url: str, path: str, timeout_s: float = 60.0) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def hanging_central() -> Iterator[socket.socket]:
    """A central that takes connections and never answers: a listening socket nobody accepts on (its URL is
    :func:`_url_of`); closing it resets the connections waiting on it."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield listener
    finally:
        listener.close()


def _url_of(listener: socket.socket) -> str:
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_relayed_lookups_never_hold_every_request_thread(
    tmp_path: Path, central: CentralHandle, hanging_central: socket.socket
) -> None:
    """8 parallel lookups of another kiosk's number while the central does not answer: one request thread waits
    for the relay, the other 7 answer at once that a check is in progress, and the home page answers while
    that one is still waiting (before: the 4 request threads were all held and the home page waited)."""
    url = _url_of(hanging_central)
    (tmp_path / "d").mkdir()
    cfg = config_mod.load(write_config(tmp_path / "d", url, "gw-d", "x" * 43), env={})
    store = Store.from_config(cfg)
    link = CentralLink(url, "gw-d", "x" * 43, now=central.clock, timeout_s=120)
    stop = threading.Event()
    relay = threading.Thread(target=LookupRelay(store, link, stop).run, name="relay-d")
    relay.start()
    app = create_app(cfg, {**KIOSK_TEST_CONFIG, "KIOSK_LOOKUP_WAIT_SECONDS": 60.0})
    number = regno.make("gw-x", date(2025, 2, 3), 7)
    try:
        _wait_for(lambda: store.lookup_relay_running(), "the relay's heartbeat")
        with LiveServer(app) as server, ThreadPoolExecutor(8) as pool:
            asked = [pool.submit(_get, server.url, f"/status/{number}") for _ in range(8)]
            try:
                _wait_for(lambda: sum(f.done() for f in asked) >= 7, "7 lookups answered")
                status, _headers, home = _get(server.url, "/", timeout_s=30)
                assert status == 200 and "tile" in home
                assert sum(not f.done() for f in asked) == 1  # the lookup waiting for the central still waits
            finally:
                hanging_central.close()  # the relay's request is reset: it answers "offline" to the waiter
            answers = [f.result() for f in asked]
        busy = [(headers, page) for code, headers, page in answers if code == 503]
        assert len(busy) == 7 and sorted(code for code, _h, _p in answers) == [404] + [503] * 7
        for _headers, page in busy:
            assert "Pemeriksaan sedang berlangsung" in page and number in page
            assert '<meta http-equiv="refresh" content="8">' in page and "Coba lagi" in page
    finally:
        stop.set()
        relay.join(30)
        close_app(app)
        link.close()
        store.close()
    assert not relay.is_alive()


def test_no_wait_when_the_sync_process_is_not_running(tmp_path: Path, central: CentralHandle) -> None:
    """No relay heartbeat (``sync run`` stopped): 8 parallel lookups of another kiosk's number answer at once
    that the central cannot be asked, instead of holding a request thread for the wait each."""
    (tmp_path / "e").mkdir()
    cfg = config_mod.load(write_config(tmp_path / "e", central.url, "gw-e", "x" * 43), env={})
    app = create_app(cfg, {**KIOSK_TEST_CONFIG, "KIOSK_LOOKUP_WAIT_SECONDS": 600.0})
    store: Store = app.extensions["anjungan_store"]
    number = regno.make("gw-x", date(2025, 2, 3), 7)
    try:
        with LiveServer(app) as server, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _i: _get(server.url, f"/status/{number}", 120), range(8)))
            assert _get(server.url, "/", 30)[0] == 200
        assert [code for code, _h, _p in answers] == [404] * 8
        assert all("tidak dapat dihubungi" in page for _c, _h, page in answers)
        assert store.conn.execute("SELECT count(*) FROM status_lookups").fetchone() == (0,)  # none was asked
    finally:
        close_app(app)


def test_the_relay_heartbeat_ends_with_the_relay(store: Store, central: CentralHandle) -> None:
    link = CentralLink(central.url, central.gateway_id, central.secret, now=central.clock, timeout_s=10)
    stop = threading.Event()
    relay = threading.Thread(target=LookupRelay(store, link, stop).run, name="relay-f")
    relay.start()
    try:
        _wait_for(lambda: store.lookup_relay_running(), "the relay's heartbeat")
    finally:
        stop.set()
        relay.join(30)
        link.close()
    assert not store.lookup_relay_running()
