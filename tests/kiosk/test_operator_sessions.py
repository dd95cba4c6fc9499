"""Logging out logs out: operator sessions live on the server; a growing lockout per account."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from gateway.store import Store
from gateway.store import kiosk as kiosk_queries
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import csrf, post

PASSWORD = "kunci-operator-2025"


@pytest.fixture
def operator_app(make_app: Callable[..., Flask], kiosk_store: Store) -> Flask:
    return make_app(KIOSK_PASSWORD_HASH=generate_password_hash(PASSWORD), KIOSK_LIMIT_LOGIN="1000 per minute",
                    KIOSK_LOGIN_FREE_FAILURES=2, KIOSK_LOGIN_LOCK_BASE_SECONDS=30.0)  # fmt: skip


def _login(app: Flask, address: str = "127.0.0.1") -> tuple[FlaskClient, str]:
    """A logged-in operator client and its session cookie's value."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    assert post(client, "/operator/masuk", {"password": PASSWORD}).status_code == 302
    cookie = client.get_cookie("anjungan")
    assert cookie is not None
    return client, cookie.value


def _replay(app: Flask, cookie: str) -> int:
    """The status of the health page for someone holding a copy of ``cookie``."""
    thief = app.test_client()
    thief.set_cookie("anjungan", cookie)
    return thief.get("/operator/").status_code


def _sessions(store: Store) -> dict[str, dict]:
    rows = store.conn.execute(
        "SELECT key, value FROM meta WHERE key LIKE ?", (kiosk_queries.OPERATOR_SESSION_PREFIX + "%",)
    )
    return {key: json.loads(value) for key, value in rows}


def _age(store: Store, field: str, by_ms: int) -> None:
    for key, state in _sessions(store).items():
        store.set_meta(key, json.dumps({**state, field: state[field] - by_ms}))


def test_a_copied_cookie_is_dead_after_logout(operator_app: Flask, kiosk_store: Store) -> None:
    client, cookie = _login(operator_app)
    assert _replay(operator_app, cookie) == 200  # a copy works while the session lives
    client.post("/operator/keluar", data={"csrf_token": csrf(client, "/operator/")})
    assert _replay(operator_app, cookie) == 302
    assert _sessions(kiosk_store) == {}


def test_a_copied_cookie_is_dead_after_the_idle_reset(operator_app: Flask) -> None:
    client, cookie = _login(operator_app)
    client.post("/selesai")
    assert _replay(operator_app, cookie) == 302


def test_idle_timeout_and_maximum_age(operator_app: Flask, kiosk_store: Store) -> None:
    client, cookie = _login(operator_app)
    _age(kiosk_store, "seen", 14 * 60_000)
    assert client.get("/operator/").status_code == 200  # used within the idle timeout: still alive
    _age(kiosk_store, "seen", 16 * 60_000)
    assert client.get("/operator/").status_code == 302
    client, cookie = _login(operator_app)
    _age(kiosk_store, "created", 8 * 3600_000 + 1000)
    assert _replay(operator_app, cookie) == 302  # however busy, a session ends 8 hours after login


def test_lockout_per_account_whatever_the_address(operator_app: Flask, kiosk_store: Store) -> None:
    codes = []
    for i in range(3):
        client = operator_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        codes.append(post(client, "/operator/masuk", {"password": f"tebakan-{i}"}).status_code)
    assert codes == [401, 401, 401]
    assert 29 <= kiosk_store.login_locked_for("operator") <= 30
    other = operator_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    locked = post(other, "/operator/masuk", {"password": PASSWORD})  # even the right password waits
    assert locked.status_code == 429 and "Terlalu banyak percobaan" in locked.get_data(as_text=True)
    key = kiosk_queries.LOGIN_FAILURES_PREFIX + "operator"
    state = json.loads(kiosk_store.get_meta(key) or "{}")
    kiosk_store.set_meta(key, json.dumps({**state, "locked_until": 0}))  # the lock has run out
    assert post(other, "/operator/masuk", {"password": PASSWORD}).status_code == 302
    assert kiosk_store.get_meta(key) is None  # a success clears the count


def test_the_lock_grows_with_each_failure(kiosk_store: Store) -> None:
    key = kiosk_queries.LOGIN_FAILURES_PREFIX + "operator"
    locks = []
    for _ in range(9):
        assert kiosk_store.login_attempt("operator", 2, 30.0, 900.0) == 0.0  # may be checked
        locks.append(round(kiosk_store.login_locked_for("operator")))
        if locks[-1]:  # locked: the next attempt is refused with the time left, and not counted
            assert kiosk_store.login_attempt("operator", 2, 30.0, 900.0) > locks[-1] - 1
        state = json.loads(kiosk_store.get_meta(key) or "{}")
        kiosk_store.set_meta(key, json.dumps({**state, "locked_until": 0}))  # the lock has run out
    assert locks == [0, 0, 30, 60, 120, 240, 480, 900, 900]


def _from(
    url: str, address: str, method: str, headers: dict[str, str], body: str = ""
) -> tuple[int, dict[str, str], str]:
    """One request to the live kiosk at ``url`` from loopback ``address`` (127.0.0.N: a device of its own)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60, source_address=(address, 0))
    try:
        conn.request(method, "/operator/masuk", body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_parallel_wrong_logins_check_at_most_the_free_failures_and_one(
    make_app: Callable[..., Flask], kiosk_store: Store
) -> None:
    """24 wrong passwords at once from 24 addresses (each within its own per-address limit): before, the lock
    was checked and the failure recorded in two steps, and 8 passwords were checked; now at most free + 1."""
    app = make_app(KIOSK_PASSWORD_HASH=generate_password_hash(PASSWORD))  # the defaults: 5 free failures
    free = int(app.config["KIOSK_LOGIN_FREE_FAILURES"])
    addresses = [f"127.0.0.{n}" for n in range(2, 26)]
    with LiveServer(app) as server:
        forms = []
        for address in addresses:  # each device opens the login page: its session cookie and CSRF token
            _status, headers, page = _from(server.url, address, "GET", {})
            cookie = headers["Set-Cookie"].split(";")[0]
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
            assert token, page[:300]
            forms.append((address, cookie, token.group(1)))
        start = threading.Barrier(len(forms))

        def attempt(form: tuple[str, str, str]) -> int:
            address, cookie, token = form
            body = urlencode({"csrf_token": token, "password": f"tebakan-{address}"})
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            start.wait(30)
            return _from(server.url, address, "POST", headers, body)[0]

        with ThreadPoolExecutor(len(forms)) as pool:
            codes = list(pool.map(attempt, forms))
    checked = codes.count(401)  # a 401 is a password checked and found wrong; a 429 was refused unchecked
    assert checked + codes.count(429) == len(forms), codes
    assert 1 <= checked <= free + 1, codes
    assert kiosk_store.login_locked_for("operator") > 0
