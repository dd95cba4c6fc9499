"""Logins under load, on SQLite and on the real PostgreSQL: the lockout count cannot be raced, a password is
never checked while a database connection is held, and a login flood leaves the pool to the sync API and
Open311 (docs/backoffice.md, "Logins under load")."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy.engine import Engine

from sync import protocol
from sync.central import service
from sync.central.app import create_app
from sync.central.backoffice import accounts
from sync.central.backoffice.errors import LoginRefused
from sync.central.settings import CentralSettings
from tests.central.conftest import central_of
from tests.central.officers import PASSWORD, add_officer
from tests.fixtures.wsgi import LiveServer

WRONG = "bukan-kata-sandinya-sama-sekali"


class WatchedHasher(PasswordHasher):
    """argon2-cffi's own hasher (real hashes), noting for each check how many database connections were
    checked out of the pool and how many checks ran at once."""

    def __init__(self, engine: Engine):
        super().__init__()
        self.engine = engine
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.checks = 0
        self.connections_held: list[int] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 (argon2's name)
        with self.lock:
            self.checks += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.connections_held.append(self.engine.pool.checkedout())  # type: ignore[attr-defined]
        try:
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def watched(app: Flask, monkeypatch: pytest.MonkeyPatch) -> WatchedHasher:
    hasher = WatchedHasher(central_of(app).engine)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    return hasher


def _attempt(engine: Engine, password: str, now_ms: int, gate: accounts.LoginGate | None = None) -> str:
    try:
        accounts.log_in(engine, "rina", password, now_ms, *([gate] if gate else []))
    except LoginRefused as err:
        return str(err)
    return "ok"


def test_concurrent_wrong_logins_check_no_more_passwords_than_the_lockout_allows(
    app: Flask, watched: WatchedHasher
) -> None:
    """Five waves of four wrong logins at once: at most MAX_FAILURES passwords are ever checked (20 before)."""
    engine = central_of(app).engine
    add_officer(app, "rina", "ppid")
    at = 1_000_000
    barrier = threading.Barrier(4)

    def wrong() -> str:
        barrier.wait(30)
        return _attempt(engine, WRONG, at)

    with ThreadPoolExecutor(4) as pool:
        for _wave in range(5):
            answers = list(pool.map(lambda _i: wrong(), range(4)))
            assert "ok" not in answers
    assert watched.checks <= accounts.MAX_FAILURES
    assert _attempt(engine, PASSWORD, at) == accounts.LOCKED  # locked, and no hash was checked for it
    assert watched.checks <= accounts.MAX_FAILURES
    assert _attempt(engine, PASSWORD, at + accounts.LOCK_MS + 1) == "ok"  # the lock ends by itself


def test_a_password_is_checked_with_no_database_connection_held(app: Flask, watched: WatchedHasher) -> None:
    engine = central_of(app).engine
    add_officer(app, "rina", "ppid")
    assert _attempt(engine, PASSWORD, 1_000_000) == "ok"
    assert _attempt(engine, WRONG, 1_000_000) == accounts.WRONG
    with pytest.raises(LoginRefused):
        accounts.log_in(engine, "nobody", PASSWORD, 1_000_000)  # an unknown name costs a check too
    assert watched.connections_held == [0, 0, 0]


def test_concurrent_password_checks_are_bounded_by_the_gate(app: Flask, watched: WatchedHasher) -> None:
    engine = central_of(app).engine
    names = [f"petugas{i}" for i in range(10)]
    for name in names:
        add_officer(app, name, "ppid")
    gate = accounts.LoginGate(2, wait_s=120)
    barrier = threading.Barrier(len(names))

    def right(name: str) -> str:
        barrier.wait(30)
        return accounts.log_in(engine, name, PASSWORD, 1_000_000, gate).username

    with ThreadPoolExecutor(len(names)) as pool:
        assert list(pool.map(right, names)) == names
    assert watched.checks == 10 and watched.most_at_once <= 2


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Flask, LiveServer]]:
    """The central served by 24 request threads over a pool of 4 connections (the default).

    The wait for a connection is long (60 s) so that the outcome never depends on how fast a loaded machine
    runs: that no password check holds a connection and that the gate bounds the checks is proven exactly by
    the tests above; this one proves that, end to end, every login and every sync/Open311 request is served."""
    settings = dataclasses.replace(CentralSettings(), db=db_url, pool_size=4, pool_timeout_s=60.0)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    app.config["BACKOFFICE_LIMIT_LOGIN"] = "1000 per minute"
    app.extensions["anjungan.backoffice.login_gate"].wait_s = 120.0  # as long: a slow check is not a flood
    server = LiveServer(app, threads=24)
    try:
        yield app, server
    finally:
        server.stop()
        central_of(app).engine.dispose()


def test_a_login_flood_leaves_the_pool_to_the_sync_api_and_open311(
    served: tuple[Flask, LiveServer],
) -> None:
    """Twelve officers logging in at once while gateways sync and Open311 is read: no 503 anywhere."""
    app, server = served
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    names = [f"petugas{i}" for i in range(12)]
    for name in names:
        add_officer(app, name, "ppid")
    barrier = threading.Barrier(len(names) + 6)

    def log_in(name: str) -> int:
        with requests.Session() as session:
            page = session.get(server.url + "/", timeout=60).text
            token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
            barrier.wait(60)
            answer = session.post(server.url + "/", data={"username": name, "password": PASSWORD,
                                                          "csrf_token": token}, allow_redirects=False, timeout=60)  # fmt: skip
            return answer.status_code

    def other(i: int) -> list[int]:
        barrier.wait(60)
        codes = []
        for _ in range(5):
            target = "/api/v1/changes?since="
            signed = protocol.signed_headers("gw-a", issued["secret"], "GET", target, b"", time.time())
            codes.append(requests.get(server.url + target, headers=signed, timeout=60).status_code)
            if i % 2:
                codes.append(requests.get(server.url + "/open311/v2/requests.json", timeout=60).status_code)
        return codes

    with ThreadPoolExecutor(len(names) + 6) as pool:
        logins = [pool.submit(log_in, name) for name in names]
        others: list[Any] = [pool.submit(other, i) for i in range(6)]
        login_codes = [f.result(120) for f in logins]
        other_codes = [code for f in others for code in f.result(120)]
    assert login_codes == [302] * len(names)
    assert set(other_codes) == {200}, other_codes
