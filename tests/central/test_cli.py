"""``anjungan central`` commands: add-gateway, export (jsonl, csv), set-status, publish-sample, serve."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from sync import protocol
from sync.central import service
from sync.central.app import create_app
from sync.central.backoffice import audit as bo_audit
from sync.central.backoffice.models import cases
from sync.central.cli import central_group
from sync.central.db import content
from tests.central.conftest import Clock, Gateway, readings, submission
from tests.central.officers import http_login
from tests.fixtures.wsgi import LiveServer


@pytest.fixture
def run(db_url: str, tmp_path: Path):
    runner = CliRunner()
    env = {"ANJUNGAN_CENTRAL_DB": db_url, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")}

    def invoke(*args: str) -> str:
        result = runner.invoke(central_group, ["--files-dir", str(tmp_path / "files"), *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


@pytest.fixture
def filled(run, db_url: str, tmp_path: Path) -> dict:
    issued = json.loads(run("add-gateway", "Kecamatan Wonosalam"))
    assert issued["gateway_id"] == "kecamatan-wonosalam" and len(issued["secret"]) >= 40
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key", clock=Clock())
    gateway = Gateway(issued["gateway_id"], issued["secret"], app.test_client(), Clock())
    assert gateway.send("readings", readings(1, 3)).json["acked"] == 3
    assert gateway.send("submissions", [submission(1)]).json["acked"] == 1
    app.extensions["anjungan.central"].engine.dispose()
    return issued


def test_add_gateway_twice_is_one_plain_error(run, filled: dict, db_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        central_group,
        ["--db", db_url, "add-gateway", "kecamatan-wonosalam"],
        env={"ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")},
    )
    assert result.exit_code == 1 and result.output.strip().endswith("already exists")


def test_export_readings_jsonl_and_csv(run, filled: dict) -> None:
    rows = [json.loads(line) for line in run("export", "readings").splitlines()]
    assert len(rows) == 3 and list(rows[0]) == [
        "gateway",
        "node",
        "boot",
        "seq",
        "name",
        "value",
        "received_at",
    ]
    assert rows[0]["gateway"] == "kecamatan-wonosalam" and rows[0]["seq"] == 101
    table = list(csv.DictReader(io.StringIO(run("export", "readings", "--format", "csv"))))
    assert len(table) == 3 and table[2]["received_at"] == rows[2]["received_at"]


def test_export_submissions_leaves_personal_data_out_unless_asked(run, filled: dict) -> None:
    plain = json.loads(run("export", "submissions"))
    assert "personal" not in plain and plain["status"] == "received" and "3321" not in json.dumps(plain)
    full = json.loads(run("export", "submissions", "--include-personal"))
    assert full["personal"]["nik"] == "3321010101010001"
    table = list(csv.DictReader(io.StringIO(run("export", "submissions", "--format", "csv"))))
    assert json.loads(table[0]["public"]) == {"subject": "APBDes 2025"}


def test_set_status_of_a_case_is_refused_and_points_to_the_back_office(
    run, filled: dict, db_url: str, tmp_path: Path
) -> None:
    """The kiosk must never show "answered" while the case stays "baru" and the report counts it unanswered."""
    result = CliRunner().invoke(
        central_group,
        ["--db", db_url, "set-status", filled["gateway_id"], "DMK-WONOSALAM-261128-00010", "answered"],
        env={"ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")},
    )
    assert result.exit_code == 1
    assert "case of the back office (status baru)" in result.output
    assert f"/berkas/{filled['gateway_id']}/DMK-WONOSALAM-261128-00010" in result.output
    assert json.loads(run("export", "submissions"))["status"] == "received"
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    engine = app.extensions["anjungan.central"].engine
    with engine.connect() as conn:
        status = conn.execute(sa.select(cases.c.status)).scalar_one()
        changes = conn.execute(sa.select(sa.func.count()).select_from(content)).scalar_one()
    engine.dispose()
    assert status == "baru" and changes == 0


def test_publish_sample_publishes_the_kiosk_seed_once(run, filled: dict, db_url: str, tmp_path: Path) -> None:
    """What a kiosk's ``init --sample-content`` seeds, published at the central (audited); a second run adds
    nothing, and an item an officer withdrew stays withdrawn."""
    from gateway.sample_content import SAMPLE_CHANGES, documents
    from sync.central.backoffice import publishing

    assert run("publish-sample").splitlines() == [f"{c['kind']} {c['id']}" for c in SAMPLE_CHANGES]
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key", clock=Clock())
    engine = app.extensions["anjungan.central"].engine
    gateway = Gateway(filled["gateway_id"], filled["secret"], app.test_client(), Clock())
    try:
        changes = gateway.get("/api/v1/changes?limit=1000").json["changes"]
        assert [(c["kind"], c["id"], c["op"], c["data"]) for c in changes] == [
            (c["kind"], c["id"], c["op"], c["data"]) for c in SAMPLE_CHANGES
        ]
        for sha256, pdf in documents().items():
            assert gateway.get(f"/api/v1/files/{sha256}").data == pdf
        _entries, audited = bo_audit.entries(engine, username="cli")
        assert audited == len(SAMPLE_CHANGES)
        publishing.withdraw(engine, bo_audit.Actor("ppid1", "ppid"), "announcement", "ann-001", "", 1)
        again = run("publish-sample").splitlines()
        assert again == [f"{c['kind']} {c['id']}: published before, left as it is" for c in SAMPLE_CHANGES]
        after = gateway.get("/api/v1/changes?limit=1000").json["changes"]
        assert len(after) == len(SAMPLE_CHANGES)  # nothing twice
        assert [c["op"] for c in after if c["id"] == "ann-001"] == ["delete"]
    finally:
        engine.dispose()


def test_an_export_with_personal_data_is_in_the_audit_trail(
    run, filled: dict, db_url: str, tmp_path: Path
) -> None:
    run("export", "submissions")
    run("export", "submissions", "--include-personal", "--format", "csv")
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    engine = app.extensions["anjungan.central"].engine
    entries, total = bo_audit.entries(engine)
    engine.dispose()
    assert total == 1, entries  # the export without personal data shows nobody's identity
    entry = entries[0]
    assert (entry["username"], entry["action"], entry["target"]) == ("cli", "export-personal", "submissions")
    assert json.loads(entry["after"]) == {
        "what": "submissions",
        "format": "csv",
        "fields": ["public", "personal"],
        "rows": 1,
    }


@pytest.mark.parametrize(
    "args",
    [
        ["add-user", "sari", "--role", "ppid"],
        ["export", "submissions"],
        ["audit"],
        ["set-status", "g", "N-1", "answered"],
        ["rotate-secret", "g"],
        ["opendata-audit"],
    ],
)
def test_a_command_without_a_database_creates_nothing(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(central_group, args, env=NO_SETTINGS)
    assert result.exit_code == 1, result.output
    expected = f"no central database at {tmp_path / 'central.db'}: pass --db or set ANJUNGAN_CENTRAL_DB"
    assert result.output.strip() == f"Error: {expected}"
    assert list(tmp_path.iterdir()) == []


def test_the_anjungan_command_prints_a_refusal_as_its_one_plain_line(tmp_path: Path) -> None:
    """docs/cli.md: every command prints its errors as `anjungan: ...` (the central's printed `Error: ...`)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    done = subprocess.run([sys.executable, "-m", "gateway", "central", "export", "readings"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"anjungan: no central database at {tmp_path / 'central.db'}: pass --db or set ANJUNGAN_CENTRAL_DB\n"
    )
    assert list(tmp_path.iterdir()) == []
    usage = subprocess.run([sys.executable, "-m", "gateway", "central", "export", "nothing"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (
        usage.returncode == 2 and "Usage: anjungan central export" in usage.stderr
    )  # usage errors keep usage


def test_add_gateway_creates_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(central_group, ["add-gateway", "dmk"], env=NO_SETTINGS)
    assert result.exit_code == 0, result.output
    assert {"central.db", "central.key"} <= {p.name for p in tmp_path.iterdir()}
    assert CliRunner().invoke(central_group, ["audit"], env=NO_SETTINGS).exit_code == 0


NO_SETTINGS = {
    "ANJUNGAN_CENTRAL_DB": None,
    "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": None,
    "ANJUNGAN_CENTRAL_SERVER_FILES": None,
}


def test_served_on_a_real_socket(db_url: str, tmp_path: Path) -> None:
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = app.extensions["anjungan.central"]
    issued = service.add_gateway(state.engine, state.master_key, "dmk-live")
    server = LiveServer(app)
    try:
        body, headers = protocol.encode_batch("readings", readings(1, 1000))
        target = "/api/v1/batches"
        signed = protocol.signed_headers(
            issued["gateway_id"], issued["secret"], "POST", target, body, time.time()
        )
        with requests.Session() as session:
            answer = session.post(server.url + target, data=body, headers={**headers, **signed}, timeout=30)
            assert answer.status_code == 200 and answer.json() == {"stream": "readings", "acked": 1000}
            http_login(session, server.url, app, "teknisi1", "teknisi")
            assert "dmk-live" in session.get(server.url + "/armada", timeout=30).text
    finally:
        server.stop()
        state.engine.dispose()


def test_reset_password_gives_a_new_password_that_logs_in_and_the_old_one_not(run, db_url: str) -> None:
    """What an admin who lost their password (or a demo stopped before it printed them) runs."""
    from sync.central.backoffice import accounts

    run("add-gateway", "dmk")  # makes the database (a command without one creates nothing)
    made = json.loads(run("add-user", "sari", "--role", "pelaksana", "--opd", "dispu"))
    reset = json.loads(run("reset-password", "sari"))
    assert (reset["user"], reset["role"], reset["opd"]) == ("sari", "pelaksana", "dispu")
    assert reset["password"] != made["password"]
    engine = sa.create_engine(db_url)
    try:
        assert accounts.log_in(engine, "sari", reset["password"], int(time.time() * 1000)).username == "sari"
        with pytest.raises(accounts.LoginRefused):
            accounts.log_in(engine, "sari", made["password"], int(time.time() * 1000))
        entries, _total = bo_audit.entries(engine)
        assert [e["action"] for e in entries][:2] == ["user-reset-password", "user-add"]
    finally:
        engine.dispose()
