"""The kiosk's sessions live in the server's memory (kiosk/sessions.py): the ``anjungan`` cookie holds a
random id only, never a status code, a registration number or a rating's key; ``/selesai`` deletes the
session; nothing of it reaches the data folder; the store keeps a bound and drops expired sessions."""

from __future__ import annotations

import base64
import html
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from gateway.config import Config
from kiosk.sessions import SessionStore
from tests.kiosk.helpers import complaint_data, csrf, number_on, post, request_data

ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def _store(app: Flask) -> SessionStore:
    return app.extensions["anjungan_sessions"]  # type: ignore[no-any-return]


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("anjungan")
    assert cookie is not None
    return cookie.value


def _rate(client: FlaskClient, slug: str) -> str:
    """Rate service ``slug`` (one face) and answer the form's key (its uuid)."""
    page = client.get(f"/survei/{slug}").get_data(as_text=True)
    key = re.search(r'name="kunci" type="hidden" value="([^"]+)"', page)
    assert key
    done = client.post(f"/survei/{slug}", data={"csrf_token": csrf(client, f"/survei/{slug}"),
                                                 "kunci": key.group(1), "u1": "4"})  # fmt: skip
    assert done.status_code == 200 and 'id="survey-done"' in done.get_data(as_text=True)
    return key.group(1)


def test_the_cookie_holds_only_a_random_id_after_a_submission_and_a_survey(
    app: Flask, client: FlaskClient, cfg: Config
) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    code = re.search(r'id="receipt-code">([0-9A-Z-]+)<', receipt)
    assert code, "the receipt shows the status code"
    uuid = _rate(client, "permohonan")
    assert client.get(f"/status/{number}").status_code == 200

    value = _cookie(client)
    assert ID_RE.fullmatch(value), value  # no payload, no signature: 256 random bits
    raw = base64.urlsafe_b64decode(value + "=")
    secrets_ = (number, code.group(1), code.group(1).replace("-", ""), uuid)
    for secret in secrets_:
        assert secret not in value and secret.encode() not in raw
    # it is not Flask's signed session any more: its serializer cannot read it
    flask_cookie = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flask_cookie is not None
    assert flask_cookie.loads_unsafe(value)[0] is False

    # the session is in the server's memory, under that id, and only there
    stored = _store(app).get("s:" + value)
    assert stored is not None and number in stored["receipts"] and stored["codes"][number]
    assert uuid in stored["survey_sent"]
    on_disk = b"".join(p.read_bytes() for p in Path(cfg.data_dir).rglob("*") if p.is_file())
    assert code.group(1).replace("-", "").encode() not in on_disk  # (the rating's uuid is its stored key)


def test_the_receipt_status_and_survey_still_work_with_the_session_on_the_server(client: FlaskClient) -> None:
    number = number_on(post(client, "/pengaduan", complaint_data()))
    receipt = client.get(f"/tanda-terima/{number}")
    assert receipt.status_code == 200 and 'id="receipt-code"' in receipt.get_data(as_text=True)
    status = client.get(f"/status/{number}").get_data(as_text=True)
    assert 'id="status-label"' in status and number in status
    _rate(client, "pengaduan")
    again = client.post("/survei/pengaduan", data={"csrf_token": csrf(client, "/status"),
                                                   "kunci": "another-form", "u1": "1"})  # fmt: skip
    assert again.status_code == 403  # the one rating this service granted is spent


def test_selesai_deletes_the_session_from_memory(app: Flask, client: FlaskClient) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    value = _cookie(client)
    assert _store(app).get("s:" + value) is not None
    finished = client.post("/selesai")
    assert finished.status_code == 302
    assert client.get_cookie("anjungan") is None  # the browser is told to forget it
    assert _store(app).get("s:" + value) is None and _store(app).sessions() == 0
    replayed = app.test_client()  # someone who kept a copy of the cookie
    replayed.set_cookie("anjungan", value)
    answer = replayed.get(f"/tanda-terima/{number}")
    assert answer.status_code == 302 and "/status/" in answer.headers["Location"]  # no receipt any more
    assert replayed.get("/permohonan").status_code == 200  # a new session (the form's CSRF token) ...
    assert _cookie(replayed) != value and _store(app).get("s:" + value) is None  # ... never under that id


def test_sessions_are_bounded_and_expired_ones_leave_memory(make_app: Callable[..., Flask]) -> None:
    app = make_app(KIOSK_SESSIONS_MAX=3)
    store = _store(app)
    lifetime = app.permanent_session_lifetime.total_seconds()
    assert lifetime == app.config["KIOSK_IDLE_SECONDS"] + app.config["KIOSK_IDLE_WARNING_SECONDS"] + 60
    clients = [app.test_client() for _ in range(5)]
    for c in clients:
        assert c.get("/permohonan").status_code == 200  # the form's CSRF token starts a session
    assert store.sessions() <= 3
    kept = [c for c in clients if store.get("s:" + _cookie(c)) is not None]
    assert kept and kept[-1] is clients[-1]  # the newest are kept
    with store._lock:  # every stored session expires no later than a lifetime from now
        expiries = [expires for expires, _ in store._cache.values()]
        assert all(time.time() < e <= time.time() + lifetime + 1 for e in expiries)
        first = "s:" + _cookie(kept[0])
        store._cache[first] = (int(time.time()) - 1, store._cache[first][1])  # as if its lifetime were over
    assert app.test_client().get("/api/alerts").status_code == 200  # any request drops the expired one
    with store._lock:
        assert first not in store._cache


def test_a_request_that_changed_nothing_renews_the_session_without_writing_it_back(
    app: Flask, client: FlaskClient
) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    key = "s:" + _cookie(client)
    store = _store(app)
    with store._lock:
        store._cache[key] = (int(time.time()) + 5, store._cache[key][1])
    before = int(time.time())
    assert client.get("/api/alerts").status_code == 200  # the banner's poll, every few seconds
    with store._lock:
        assert store._cache[key][0] >= before + app.permanent_session_lifetime.total_seconds()
    assert client.get(f"/tanda-terima/{number}").status_code == 200


def test_an_operator_login_gets_a_new_session_id(make_app: Callable[..., Flask]) -> None:
    app = make_app(KIOSK_PASSWORD_HASH=generate_password_hash("rahasia-123"))
    client = app.test_client()
    client.get("/operator/masuk")
    before = _cookie(client)
    assert post(client, "/operator/masuk", {"password": "rahasia-123"}).status_code == 302
    after = _cookie(client)
    assert after != before and ID_RE.fullmatch(after)
    assert client.get("/operator/").status_code == 200
    copy = app.test_client()  # a copy of the cookie taken before the login
    copy.set_cookie("anjungan", before)
    assert copy.get("/operator/").status_code == 302


def test_a_reading_still_running_after_selesai_does_not_bring_the_session_back(
    app: Flask, client: FlaskClient
) -> None:
    """A request that changed nothing never writes its copy back: a private reading aloud (espeak-ng, seconds
    on a Pi) that ends after the idle reset leaves no session in memory."""
    number = number_on(post(client, "/permohonan", request_data()))
    page = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    src = html.unescape(re.search(r'id="listen" data-src="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    value = _cookie(client)
    speech = app.extensions["anjungan_speech"]
    listener = app.test_client()  # the same browser, another connection
    listener.set_cookie("anjungan", value)
    answers: list[int] = []
    with speech._synth:  # espeak-ng is held until the idle reset is done
        reading = threading.Thread(target=lambda: answers.append(listener.get(src).status_code))
        reading.start()
        deadline = time.monotonic() + 30
        while not speech._running and time.monotonic() < deadline:  # the reading has its session open
            time.sleep(0.01)
        assert speech._running, "the reading never started"
        assert client.post("/selesai").status_code == 302
        assert _store(app).get("s:" + value) is None
    reading.join(60)
    assert answers == [200]
    assert _store(app).get("s:" + value) is None and _store(app).sessions() == 0


def test_a_request_that_changed_its_session_after_selesai_does_not_bring_it_back(
    app: Flask, client: FlaskClient
) -> None:
    """A request still running when the session ended (a status lookup waiting for the central) that changed
    its copy of the session (a survey grant, the results opened) never writes that copy back: the ended
    session, status codes and all, stays gone."""
    number_on(post(client, "/permohonan", request_data()))
    value = _cookie(client)
    interface = app.session_interface
    with app.test_request_context("/status", headers={"Cookie": f"anjungan={value}"}):
        late = interface.open_session(app, request)  # the slow request's copy
        assert late is not None and late.get("codes")
        late["opened"] = ["changed while the lookup waited"]
        assert client.post("/selesai").status_code == 302  # the idle reset ends the session meanwhile
        assert _store(app).get("s:" + value) is None
        interface.save_session(app, late, app.response_class())
    assert _store(app).get("s:" + value) is None and _store(app).sessions() == 0
