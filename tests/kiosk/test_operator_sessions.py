"""Logging out logs out: operator sessions live on the server; a growing lockout per account."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from gateway.store import Store
from gateway.store import kiosk as kiosk_queries
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
    assert 29 <= kiosk_queries.login_locked_for(kiosk_store, "operator") <= 30
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
    locks = [kiosk_queries.login_failed(kiosk_store, "operator", 2, 30.0, 900.0) for _ in range(9)]
    assert locks == [0, 0, 30, 60, 120, 240, 480, 900, 900]
