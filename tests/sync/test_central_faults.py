"""A gateway against a central with one fault: a missing file, revoked credentials, a locked database.

The gateway runs as a technician runs it (``anjungan sync now|status`` in subprocesses) against the real central
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from sync.central import service
from sync.central.app import create_app
from sync.central.cli import central_group
from sync.central.settings import CentralSettings
from tests.fixtures.wsgi import LiveServer
from tests.sync.conftest import fill, store_seqs, write_config
from tests.sync.test_cli import anjungan


def status(config: Path) -> dict:
    done = anjungan(config, "sync", "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- issue 9, 3. one missing file does not stop a gateway's sync ---------------------------------------------------


def test_a_file_the_central_cannot_serve_does_not_stop_the_sync(store, central, gateway_config):
    present = central.put_file(b"%PDF-1.4 present\n")
    missing = "ab" * 32  # announced, but the central has no such file (404)
    central.publish("document", "doc-missing", {"title": "Hilang", "sha256": missing, "size": 10})
    central.publish("document", "doc-present", {"title": "Ada", "sha256": present, "size": 17})
    fill(store, submissions=1, events=1)
    done = anjungan(gateway_config, "sync", "now")
    assert done.returncode == 0, done.stderr  # the uplink and the other changes went through
    assert "1 document file(s) could not be fetched" in done.stderr
    assert central.seqs("submissions") == store_seqs(store, "submissions")
    assert store.file_fetched(present) and not store.file_fetched(missing)
    report = status(gateway_config)
    failing = report["files"]["failing_files"]
    assert [f["sha256"] for f in failing] == [missing] and failing[0]["attempts"] == 1
    assert failing[0]["last_error"] == "the central has no such file (404)"
    text = anjungan(gateway_config, "sync", "status").stdout
    assert "1 failing" in text and "the central has no such file (404)" in text
    # a new citizen's submission goes out at once: the failing file waits for its own next attempt
    fill(store, submissions=1, start=1)
    started = time.monotonic()
    assert anjungan(gateway_config, "sync", "now").returncode == 0
    assert time.monotonic() - started < 30
    assert central.seqs("submissions") == store_seqs(store, "submissions")
    assert status(gateway_config)["files"]["failing_files"][0]["attempts"] == 1  # not retried yet
    # and the central sees what the gateway could not fetch
    overview = {g["gateway_id"]: g for g in service.overview(central.state.engine)}
    assert overview[central.gateway_id]["files"] == {"missing": 1, "failing": 1}


# --- issue 9, 4. a revoked gateway gets 401, keeps its backlog and its citizens' personal data ---------------------


def test_a_removed_gateway_keeps_its_backlog_and_personal_data(store, central, gateway_config, tmp_path):
    fill(store, submissions=1)
    assert anjungan(gateway_config, "sync", "now").returncode == 0
    service.remove_gateway(central.state.engine, central.gateway_id)  # what `central remove-gateway` does
    fill(store, submissions=2, events=3, start=1)
    done = anjungan(gateway_config, "sync", "now", "--attempts", "1")
    assert done.returncode == 1 and "refused our credentials" in done.stderr
    assert central.seqs("submissions") == [1] and central.seqs("events") == []
    personal = [row[0] for row in store.conn.execute("SELECT personal FROM submissions ORDER BY seq")]
    assert personal[0] is None and all(personal[1:])  # nothing purged that the central did not keep
    report = status(gateway_config)
    assert report["streams"]["submissions"]["pending"] == 2 and report["streams"]["events"]["pending"] == 3
    assert "refused our credentials" in report["credentials"]["refused"]
    text = anjungan(gateway_config, "sync", "status").stdout
    assert text.splitlines()[0].startswith("CREDENTIALS REFUSED by the central")


def test_a_rotated_secret_is_refused_until_the_config_has_the_new_one(store, central, tmp_path):
    runner = CliRunner()
    env = {"ANJUNGAN_CENTRAL_DB": str(central.state.engine.url.render_as_string(False)),
           "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")}  # fmt: skip
    done = runner.invoke(central_group, ["--files-dir", str(central.state.files_dir), "rotate-secret",
                                         central.gateway_id], env=env)  # fmt: skip
    assert done.exit_code == 0, done.output
    new_secret = json.loads(done.output)["secret"]
    fill(store, submissions=1)
    old = write_config(tmp_path, central.url, central.gateway_id, central.secret)
    assert anjungan(old, "sync", "now", "--attempts", "1").returncode == 1
    assert status(old)["credentials"]["refused"]
    new = write_config(tmp_path, central.url, central.gateway_id, new_secret)
    assert anjungan(new, "sync", "now").returncode == 0
    assert status(new)["credentials"]["refused"] is None
    assert central.seqs("submissions") == store_seqs(store, "submissions")


# --- issue 9, 5. the gateway shows why the central is unavailable ---------------------------------------------------


@contextmanager
def write_locked(db_url: str) -> Iterator[None]:
    if db_url.startswith("postgresql"):
        conn = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(False))
        conn.execute("LOCK TABLE stream_state IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    lite = sqlite3.connect(str(make_url(db_url).database), isolation_level=None)
    lite.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lite.execute("ROLLBACK")
        lite.close()


def test_a_busy_central_is_shown_in_plain_words(store, central_db, tmp_path):
    settings = CentralSettings(db=central_db, lock_timeout_s=1.0, statement_timeout_s=2.0, retry_after_s=1)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = app.extensions["anjungan.central"]
    issued = service.add_gateway(state.engine, state.master_key, "gw-busy")
    try:
        with LiveServer(app) as server:
            config = write_config(tmp_path, server.url, "gw-busy", issued["secret"])
            fill(store, events=2)
            with write_locked(central_db):
                done = anjungan(config, "sync", "now", "--attempts", "1")
            assert done.returncode == 1
            words = "the central is busy (its database is overloaded or locked); it asked to try again in 1 s"
            assert words in done.stderr
            assert status(config)["streams"]["events"]["last_error"] == words
            assert words in anjungan(config, "sync", "status").stdout
            assert anjungan(config, "sync", "now").returncode == 0  # the lock gone, everything arrives
    finally:
        state.engine.dispose()
