"""The central keeps what it acknowledged and no single fault stalls it; gateways speak only for themselves.

Each test runs on SQLite and on the session's real PostgreSQL (``central_db``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from gateway import config as gateway_config
from gateway import regno
from gateway.errors import ConfigError
from sync import protocol
from sync.central import service
from sync.central.app import create_app
from sync.central.cli import central_group
from sync.central.settings import CentralSettings
from tests.central.conftest import Clock, Gateway, central_of, reading, readings, submission
from tests.fixtures.wsgi import LiveServer

ANJUNGAN = str(Path(sys.executable).parent / "anjungan")


def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


def admin_url(db_url: str) -> str:
    return make_url(db_url).set(drivername="postgresql", database="postgres").render_as_string(False)


def pg_database(db_url: str) -> str:
    database = make_url(db_url).database
    assert database
    return database


# --- 1. an acknowledgement means the data is on disk ---------------------------------------------------------


def test_connections_serving_the_api_commit_durably(db_url: str, tmp_path: Path, clock: Clock) -> None:
    if is_postgres(db_url):  # a database whose default would lose commits on a crash
        with psycopg.connect(admin_url(db_url), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {pg_database(db_url)} SET synchronous_commit = off")
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key", clock=clock)
    state = central_of(app)
    try:
        issued = service.add_gateway(state.engine, state.master_key, "gw-a")
        gateway = Gateway(issued["gateway_id"], issued["secret"], app.test_client(), clock)
        for first in range(1, 41, 2):  # 20 submission batches, as in the trial
            answer = gateway.send("submissions", [submission(seq, regno.make("gw-a", date(2026, 11, 28), seq))
                                                  for seq in (first, first + 1)])  # fmt: skip
            assert answer.status_code == 200, answer.json
        # every connection the pool hands to the API, checked out at once
        held = [state.engine.raw_connection() for _ in range(state.settings.pool_size)]
        try:
            for conn in held:
                cursor = conn.cursor()
                if is_postgres(db_url):
                    cursor.execute("SHOW synchronous_commit")
                    assert cursor.fetchone()[0] == "on"
                else:
                    cursor.execute("PRAGMA synchronous")
                    assert cursor.fetchone()[0] == 2  # FULL
                    cursor.execute("PRAGMA journal_mode")
                    assert cursor.fetchone()[0] == "wal"
                cursor.close()
        finally:
            for conn in held:
                conn.close()
    finally:
        state.engine.dispose()


# --- 2. reads never block writes; exports stream --------------------------------------------------------------


def test_export_with_a_stalled_reader_does_not_block_gateways(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    key = tmp_path / "central.key"
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=key, clock=clock)
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    gateway = Gateway(issued["gateway_id"], issued["secret"], app.test_client(), clock)
    for first in range(1, 20_001, 5000):
        assert gateway.send("readings", readings(first, first + 4999)).status_code == 200
    env = {**os.environ, "ANJUNGAN_CENTRAL_DB": db_url, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(key),
           "ANJUNGAN_CENTRAL_SERVER_FILES": str(tmp_path / "files")}  # fmt: skip
    # a slow reader of the export's pipe: one line read, then nobody reads (the pipe fills and the export waits)
    export = subprocess.Popen([ANJUNGAN, "central", "export", "readings"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        assert export.stdout is not None
        assert json.loads(export.stdout.readline())["gateway"] == "gw-a"
        times = []
        for first in range(20_001, 20_101, 10):  # gateways keep posting while the export is stalled
            started = time.monotonic()
            answer = gateway.send("readings", readings(first, first + 9))
            times.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.json
            assert answer.json["acked"] == first + 9
        assert export.poll() is None  # the export is still there, holding its snapshot
        assert max(times) < 5.0, times  # no wait for the export (a busy timeout would take 10 s or more)
        rest = export.stdout.read()  # the export then finishes with the rows of its snapshot
        assert export.wait(60) == 0
        assert len(rest.splitlines()) + 1 == 20_000
    finally:
        if export.poll() is None:
            export.kill()
            export.wait(10)
        if export.stdout:
            export.stdout.close()
        state.engine.dispose()


# --- 4. credentials rotated and revoked at once, in every worker -------------------------------------------------


def test_rotate_and_remove_take_effect_at_once_in_every_worker(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    key = tmp_path / "central.key"
    workers = [create_app(db_url, files_dir=tmp_path / "files", key_file=key, clock=clock) for _ in range(2)]
    env = {"ANJUNGAN_CENTRAL_DB": db_url, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(key)}
    runner = CliRunner()

    def cli(*args: str) -> str:
        done = runner.invoke(central_group, ["--files-dir", str(tmp_path / "files"), *args], env=env)
        assert done.exit_code == 0, done.output
        return done.output

    try:
        issued = json.loads(cli("add-gateway", "gw-a"))
        old = [Gateway("gw-a", issued["secret"], app.test_client(), clock) for app in workers]
        for seq, gw in enumerate(old, start=1):  # both workers know the secret (and would have cached it)
            assert gw.send("events", [ev(seq)]).status_code == 200
        rotated = json.loads(cli("rotate-secret", "gw-a"))
        assert rotated["gateway_id"] == "gw-a" and rotated["secret"] != issued["secret"]
        new = [Gateway("gw-a", rotated["secret"], app.test_client(), clock) for app in workers]
        for gw in old:
            assert gw.send("events", [ev(3)]).status_code == 401
        assert new[0].send("events", [ev(3)]).json["acked"] == 3
        assert new[1].send("events", [ev(4)]).json["acked"] == 4
        assert cli("remove-gateway", "gw-a").strip() == "gw-a: removed"
        unknown = Gateway("gw-nobody", rotated["secret"], workers[0].test_client(), clock)
        refusals = [gw.send("events", [ev(5)]) for gw in [*new, unknown]]
        assert [r.status_code for r in refusals] == [401, 401, 401]
        assert refusals[0].json == refusals[2].json  # a removed gateway looks like one that never was
        assert [gw.get("/api/v1/changes").status_code for gw in new] == [401, 401]
        with central_of(workers[0]).engine.connect() as conn:  # nothing stored after the removal
            assert conn.execute(sa.text("SELECT max(seq) FROM events")).scalar_one() == 4
        actions = [json.loads(line)["action"] for line in cli("audit", "gw-a").splitlines()]
        assert actions == ["added", "secret-rotated", "removed"]
        done = runner.invoke(central_group, ["rotate-secret", "gw-a"], env=env)
        assert done.exit_code == 1 and "was removed" in done.output
    finally:
        for app in workers:
            central_of(app).engine.dispose()


def ev(seq: int) -> dict:
    return {"seq": seq, "at": 1_795_449_600_000, "offset": 0, "node": None, "kind": "boot", "data": {}}


# --- 5. a slow database degrades to 503 with a reason; the clock still answers ------------------------------------


@contextmanager
def table_locked(db_url: str) -> Iterator[None]:
    """Another session holds the write lock (SQLite) or an exclusive lock on stream_state (PostgreSQL)."""
    if is_postgres(db_url):
        conn = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(False))
        conn.execute("LOCK TABLE stream_state IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    path = make_url(db_url).database
    assert path
    lite = sqlite3.connect(path, isolation_level=None)
    lite.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lite.execute("ROLLBACK")
        lite.close()


SLOW_DB = CentralSettings(lock_timeout_s=1.0, statement_timeout_s=2.0, pool_size=2, pool_timeout_s=0.5)


def test_a_locked_table_gets_503_busy_and_the_clock_still_answers(db_url: str, tmp_path: Path) -> None:
    settings = dataclasses.replace(SLOW_DB, db=db_url)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    server = LiveServer(app, threads=12)  # a thread for each poster and the clock: the clock never queues
    answers: list[requests.Response] = []

    def post(seq: int) -> None:
        body, headers = protocol.encode_batch("readings", [reading(seq)])
        signed = protocol.signed_headers(
            "gw-a", issued["secret"], "POST", "/api/v1/batches", body, time.time()
        )
        answers.append(requests.post(server.url + "/api/v1/batches", data=body, headers={**headers, **signed},
                                     timeout=20))  # fmt: skip

    try:
        with table_locked(db_url):
            posters = [threading.Thread(target=post, args=(seq,)) for seq in range(1, 9)]
            started = time.monotonic()
            for thread in posters:
                thread.start()
            clock_times = []
            for _ in range(5):  # the clock needs no database: it answers while the batches wait
                asked = time.monotonic()
                assert requests.get(server.url + "/api/v1/time", timeout=20).status_code == 200
                clock_times.append(time.monotonic() - asked)
            for thread in posters:
                thread.join(30)
            elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [503] * 8, [a.text for a in answers]
        assert all(a.json()["reason"] == "busy" and a.headers["Retry-After"] == "30" for a in answers)
        assert max(clock_times) < 5.0, clock_times
        assert elapsed < 15.0  # bounded well below a gateway's 60 s request timeout
        post(1)  # the lock gone, the same batch is stored
        assert answers[-1].status_code == 200 and answers[-1].json()["acked"] == 1
    finally:
        server.stop()
        state.engine.dispose()


@pytest.mark.parametrize("central_db", ["sqlite"], indirect=True)  # a full disk made with max_page_count
def test_a_full_disk_gets_503_disk_full(central_db: str, tmp_path: Path, clock: Clock) -> None:
    app = create_app(central_db, files_dir=tmp_path / "files", key_file=tmp_path / "central.key", clock=clock)
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    gateway = Gateway(issued["gateway_id"], issued["secret"], app.test_client(), clock)
    with state.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    sa.event.listen(state.engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count = {pages}"))
    state.engine.dispose()  # new connections: the file cannot grow any more, as on a full disk
    try:
        answer = gateway.send("readings", readings(1, 20_000))
        assert answer.status_code == 503, answer.json
        assert answer.json["reason"] == "disk full" and answer.headers["Retry-After"] == "300"
    finally:
        state.engine.dispose()


@pytest.mark.parametrize("central_db", ["postgresql"], indirect=True)  # SQLite has no server to lose
def test_a_database_that_refuses_connections_gets_503_unavailable(central_db: str, tmp_path: Path) -> None:
    settings = CentralSettings(db=central_db, pool_timeout_s=1.0)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    gateway = Gateway("gw-a", issued["secret"], app.test_client(), Clock(time.time()))
    name = pg_database(central_db)
    with psycopg.connect(admin_url(central_db), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            gateway.clock.now = time.time()
            answer = gateway.send("events", [ev(1)])
            assert answer.status_code == 503, answer.json
            assert answer.json["reason"] == "database unavailable" and answer.headers["Retry-After"] == "30"
            assert app.test_client().get("/api/v1/time").status_code == 200
        finally:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    state.engine.dispose()


# --- 7. the central's own settings -----------------------------------------------------------------------------


def test_the_central_and_a_gateway_share_one_shell(tmp_path: Path, config_file: Path) -> None:
    env = {
        "ANJUNGAN_CENTRAL_DB": f"sqlite:///{tmp_path / 'c.db'}",
        "ANJUNGAN_CENTRAL_SERVER_FILES": str(tmp_path / "files"),
        "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "c.key"),
        "ANJUNGAN_CENTRAL_SERVER_KEY": "",
        "ANJUNGAN_CENTRAL_SERVER_POOL_SIZE": "3",
        "ANJUNGAN_CENTRAL_URL": "http://127.0.0.1:8600",  # the gateway's own [central] section
    }
    cfg = gateway_config.load(config_file, env=env)  # every gateway command loads this
    assert cfg.central.url == "http://127.0.0.1:8600"
    settings = CentralSettings.from_env(env)
    assert (settings.files, settings.key_file, settings.pool_size) == (str(tmp_path / "files"),
                                                                      str(tmp_path / "c.key"), 3)  # fmt: skip
    with pytest.raises(ConfigError, match="unknown setting ANJUNGAN_CENTRAL_SERVER_POOLSIZE"):
        CentralSettings.from_env({"ANJUNGAN_CENTRAL_SERVER_POOLSIZE": "3"})
    with pytest.raises(
        ConfigError, match="ANJUNGAN_CENTRAL_FILES is now named ANJUNGAN_CENTRAL_SERVER_FILES"
    ):
        CentralSettings.from_env({"ANJUNGAN_CENTRAL_FILES": "/srv/files"})
    with pytest.raises(ConfigError, match="ANJUNGAN_CENTRAL_SERVER_POOL_SIZE: expected int"):
        CentralSettings.from_env({"ANJUNGAN_CENTRAL_SERVER_POOL_SIZE": "many"})


def test_docs_list_the_central_settings() -> None:
    import importlib.util

    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("update_docs", repo / "scripts" / "update-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (repo / "docs" / "central.md").read_text()
    assert module.generated_central(doc) == doc, "run: .venv/bin/python scripts/update-docs.py"
    assert "ANJUNGAN_CENTRAL_SERVER_FILES" in doc


# --- 3 (central side). the files folder comes from configuration, the same for every command ---------------------


def test_files_location_comes_from_configuration_only(central_db: str, tmp_path: Path) -> None:
    key = tmp_path / "central.key"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    base = {**os.environ, "ANJUNGAN_CENTRAL_DB": central_db, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(key)}
    base.pop("ANJUNGAN_CENTRAL_SERVER_FILES", None)

    def anjungan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ANJUNGAN, "central", *args], capture_output=True, text=True, env=env,
                              cwd=elsewhere, timeout=120)  # fmt: skip

    if is_postgres(central_db):  # no default: never the working directory
        done = anjungan("publish-sample", env=base)
        assert done.returncode == 1 and "ANJUNGAN_CENTRAL_SERVER_FILES" in done.stderr
        assert not (elsewhere / "central-files").exists()
    # add-gateway is the one command (besides serve) that makes a database
    assert anjungan("add-gateway", "gw-first", env=base).returncode == 0
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    done = anjungan("publish-sample", env={**base, "ANJUNGAN_CENTRAL_SERVER_FILES": str(blocked / "files")})
    assert done.returncode == 1 and "cannot store documents" in done.stderr
    files = tmp_path / "files"
    done = anjungan("publish-sample", env={**base, "ANJUNGAN_CENTRAL_SERVER_FILES": str(files)})
    assert done.returncode == 0, done.stderr
    sha = done.stdout.split()[1]
    app = create_app(central_db, files_dir=files, key_file=key)  # the server, started from elsewhere
    state = central_of(app)
    try:
        issued = service.add_gateway(state.engine, state.master_key, "gw-a")
        gateway = Gateway("gw-a", issued["secret"], app.test_client(), Clock(time.time()))
        changes = gateway.get("/api/v1/changes").json["changes"]
        announced = [c["id"] for c in changes if c["kind"] == "document"]
        assert sha in announced and announced == sorted(set(announced), key=announced.index)
        for each in announced:  # announced only once stored
            assert gateway.get(f"/api/v1/files/{each}").status_code == 200
    finally:
        state.engine.dispose()


# --- issue 10, 8. a gateway speaks only for itself ---------------------------------------------------------------


def test_a_gateway_cannot_send_records_of_another(app: Any, client: Any, clock: Clock) -> None:
    state = central_of(app)
    a, b = (Gateway(g["gateway_id"], g["secret"], client, clock)
            for g in (service.add_gateway(state.engine, state.master_key, name) for name in ("gw-a", "gw-b")))  # fmt: skip
    number = "GW-A-261128-00010"
    assert a.send("submissions", [submission(1, number)]).json["acked"] == 1
    assert a.send("readings", readings(1, 3)).json["acked"] == 3  # node dmk-wl-01 is gw-a's
    stolen = {**submission(1, number), "uuid": "6f1c2d7e-0000-4000-8000-999999999999"}
    refused = b.send("submissions", [stolen])
    assert refused.status_code == 422
    assert refused.json["rejected"] == [
        {"seq": 1, "reason": "the registration number prefix 'gw-a' belongs to another gateway"}
    ]
    same_uuid = {**submission(1, "GW-B-261128-00010")}  # gw-a's submission uuid
    assert b.send("submissions", [same_uuid]).json["rejected"][0]["reason"].startswith("the submission uuid")
    foreign_node = b.send("readings", [reading(1)])
    assert foreign_node.status_code == 422
    assert foreign_node.json["rejected"] == [
        {"seq": 1, "reason": "the node 'dmk-wl-01' belongs to another gateway"}
    ]
    mixed = [{**reading(1), "node": "gw-b-node"}, reading(2)]
    assert [r["seq"] for r in b.send("readings", mixed).json["rejected"]] == [2]  # nothing of it stored
    own = {**submission(1, "GW-B-261128-00010"), "uuid": "6f1c2d7e-0000-4000-8000-000000000077"}
    assert b.send("submissions", [own]).json["acked"] == 1
    assert b.send("readings", [{**reading(1), "node": "gw-b-node"}]).json["acked"] == 1
    numbers = [s["number"] for s in service.export_submissions(state.engine)]
    assert sorted(numbers) == ["GW-A-261128-00010", "GW-B-261128-00010"]  # each number once


def test_only_bodies_and_what_they_decode_to_count_against_the_in_flight_budget(
    db_url: str, tmp_path: Path
) -> None:
    settings = CentralSettings(db=db_url, inflight_mb=1)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    try:
        issued = service.add_gateway(state.engine, state.master_key, "gw-a")
        gateway = Gateway("gw-a", issued["secret"], app.test_client(), Clock(time.time()))
        assert gateway.get("/api/v1/changes").status_code == 200
        assert state.inflight.peak == 0  # a request without a body reserves nothing
        body, headers = protocol.encode_batch("events", [ev(1)])
        assert gateway.request("POST", "/api/v1/batches", body, headers).status_code == 200
        inflated = gzip.decompress(body)  # the body, what it inflates to, and its records' estimated memory
        tokens = protocol.json_tokens(inflated)
        assert state.inflight.peak == len(body) + len(inflated) + tokens * protocol.MEMORY_PER_TOKEN
        assert state.inflight.used == 0 and state.inflight.senders == {}
    finally:
        state.engine.dispose()
