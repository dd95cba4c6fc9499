"""The central tried as an attacker would: status lookups, replayed and tampered requests, private files.

Bounded loops on loopback only; the defences of the sync API itself (gzip bombs, oversized bodies, skew) are in
test_api.py and stay there. docs/central.md, "Defences", keeps the table.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from flask import Flask

from gateway import regno, statuscode
from gateway.errors import AnjunganError, ConfigError
from sync import protocol
from sync.central import service
from sync.central.app import create_app
from sync.central.settings import CentralSettings
from tests.central.conftest import Clock, Gateway, central_of, readings, submission

NUMBER = "DMK-WONOSALAM-250324-00015"
ANSWER = "Salinan siap. Hubungi Bu Siti, 081234567890."


def _lookup(gateway: Gateway, number: str, code: str | None, **sign: object) -> object:
    body = protocol.encode_status_lookup(number, code)
    return gateway.request(
        "POST", "/api/v1/status-lookup", body, {"Content-Type": "application/json"}, **sign
    )


@pytest.fixture
def answered(app: Flask, gateway: Gateway) -> str:
    """A submission the gateway sent with its status code's hash, answered by an officer; returns the code."""
    code = statuscode.new_code()
    record = {**submission(1, NUMBER), "access": statuscode.access_hash(NUMBER, code)}
    assert gateway.send("submissions", [record]).status_code == 200
    service.set_submission_status(central_of(app).engine, gateway.id, NUMBER, "answered", answer=ANSWER)
    return code


def test_lookup_without_the_code_shows_only_the_status(gateway: Gateway, answered: str) -> None:
    response = _lookup(gateway, NUMBER, None)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.get_json() == {"number": NUMBER, "found": True, "full": False, "status": "answered"}  # type: ignore[attr-defined]
    wrong = _lookup(gateway, NUMBER, statuscode.new_code()).get_json()  # type: ignore[attr-defined]
    assert wrong["full"] is False and "answer" not in wrong


def test_lookup_with_the_code_shows_the_answer_and_never_personal_data(
    gateway: Gateway, answered: str
) -> None:
    result = _lookup(gateway, NUMBER, statuscode.grouped(answered).lower()).get_json()  # type: ignore[attr-defined]
    assert result["full"] is True and result["answer"] == ANSWER and result["kind"] == "request"
    text = json.dumps(result)
    assert "3321010101010001" not in text and 'Siti"' not in text


@pytest.mark.parametrize("number", ["' OR 1=1 --", NUMBER + "' OR '1'='1", "%", "_" * 20])
def test_lookup_sql_injection_and_wildcards_find_nothing(
    gateway: Gateway, answered: str, number: str
) -> None:
    assert _lookup(gateway, number, None).get_json() == {"number": number, "found": False}  # type: ignore[attr-defined]


def test_lookup_unsigned_tampered_replayed_or_oversized_is_refused(
    gateway: Gateway,
    client,
    clock: Clock,
    answered: str,  # type: ignore[no-untyped-def]
) -> None:
    body = protocol.encode_status_lookup(NUMBER, answered)
    assert client.post("/api/v1/status-lookup", data=body).status_code == 401
    tampered = _lookup(gateway, NUMBER, answered, signed_body=protocol.encode_status_lookup(NUMBER, None))
    assert tampered.status_code == 401  # type: ignore[attr-defined]
    other = _lookup(gateway, NUMBER, answered, secret="x" * 43)
    assert other.status_code == 401  # type: ignore[attr-defined]
    replayed = _lookup(gateway, NUMBER, answered, now=clock() - 3600)
    assert replayed.status_code == 401  # type: ignore[attr-defined]
    big = gateway.request("POST", "/api/v1/status-lookup", b'{"number": "' + b"1" * 5000 + b'"}')
    assert big.status_code == 413
    assert _lookup(gateway, "", None).status_code == 400  # type: ignore[attr-defined]


def test_lookups_are_limited_per_gateway_and_per_number(app: Flask, gateway: Gateway, answered: str) -> None:
    app.config.update(CENTRAL_LIMIT_LOOKUP_NUMBER="3 per minute", CENTRAL_LIMIT_LOOKUP_GATEWAY="5 per minute")
    codes = [_lookup(gateway, NUMBER, None).status_code for _ in range(4)]  # type: ignore[attr-defined]
    assert codes == [200, 200, 200, 429]
    refused = _lookup(gateway, NUMBER, None)
    assert int(refused.headers["Retry-After"]) > 0  # type: ignore[attr-defined]
    others = [_lookup(gateway, f"GW-X-250324-0001{i}", None).status_code for i in range(3)]  # type: ignore[attr-defined]
    assert others == [429, 429, 429]  # the gateway's own budget (5) is spent too


def test_the_index_page_shows_no_submission_or_personal_data(client, gateway: Gateway, answered: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").get_data(as_text=True)
    for secret in (NUMBER, "3321010101010001", "Siti", ANSWER, answered):
        assert secret not in page


def test_a_new_sqlite_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        app = create_app(f"sqlite:///{tmp_path / 'db' / 'central.db'}", files_dir=tmp_path / "files",
                         key_file=tmp_path / "central.key")  # fmt: skip
        central_of(app).engine.dispose()
    finally:
        os.umask(previous)
    modes = {p.name: f"{stat.S_IMODE(p.stat().st_mode):04o}" for p in (tmp_path / "db").iterdir()}
    modes["db"] = f"{stat.S_IMODE((tmp_path / 'db').stat().st_mode):04o}"
    assert modes.pop("central.db") == "0600" and modes.pop("db") == "0700"
    assert all(mode == "0600" for mode in modes.values()), modes  # -wal and -shm follow the database file


# --- issue 10, 8: a number in a variant spelling is not a way around the ownership check ----------------------

GWA_NUMBER = "GWA-261130-00011"  # gateway A's first submission of 30 November 2026


def _registered(app: Flask, client, clock: Clock, name: str) -> Gateway:  # type: ignore[no-untyped-def]
    issued = service.add_gateway(central_of(app).engine, central_of(app).master_key, name)
    return Gateway(issued["gateway_id"], issued["secret"], client, clock)


@pytest.mark.parametrize(
    "variant",
    ["GWA 261130 00011", "GWA/261130/00011", "GW\u0410-261130-00011", "\u200bGWA-261130-00011", "XYZ",
     "gwa-261130-00011", " GWA-261130-00011"],
)  # fmt: skip
def test_a_number_is_taken_only_in_its_canonical_form(app: Flask, client, clock: Clock, variant: str) -> None:  # type: ignore[no-untyped-def]
    a, b = _registered(app, client, clock, "gw-a"), _registered(app, client, clock, "gw-b")
    assert a.send("submissions", [submission(1, GWA_NUMBER)]).status_code == 200
    stolen = {**submission(1, variant), "uuid": "6f1c2d7e-0000-4000-8000-999999999999"}
    refused = b.send("submissions", [stolen])
    assert refused.status_code == 422, refused.json
    ((item),) = refused.json["rejected"]
    assert item["seq"] == 1 and item["reason"].startswith("'number' ") and " is refused: " in item["reason"]
    numbers = [(s["gateway"], s["number"]) for s in service.export_submissions(central_of(app).engine)]
    assert numbers == [("gw-a", GWA_NUMBER)]  # nothing stored under gw-b


def test_the_kiosk_reads_two_of_the_variants_as_the_same_number() -> None:
    """Why variants must be refused: the kiosk's lookup forgives spaces and '/', so they name A's number."""
    assert str(regno.parse("GWA 261130 00011")) == str(regno.parse("GWA/261130/00011")) == GWA_NUMBER


# --- a replaced kiosk store: a seq the central holds under another uuid is refused ---------------------------


def test_a_seq_used_by_another_submission_is_refused_not_acknowledged(gateway: Gateway) -> None:
    first = submission(1)
    assert gateway.send("submissions", [first]).json == {"stream": "submissions", "acked": 1}
    replaced = {**submission(1), "uuid": "6f1c2d7e-0000-4000-8000-0000000000ff", "personal": {"nik": "1"}}
    refused = gateway.send("submissions", [replaced, submission(2)])
    assert refused.status_code == 422
    assert refused.json["rejected"] == [
        {"seq": 1, "reason": "seq 1 was already used by another submission: was this kiosk's store replaced? "
                             "Its submissions are kept at the kiosk as dead letters (docs/sync.md, "
                             "\"A replaced store\")"}
    ]  # fmt: skip
    assert gateway.send("submissions", [first, submission(2)]).json["acked"] == 2  # a resend is no reuse


# --- nothing tells a known id from an unknown one: size, sealed secrets -----------------------------------------


def test_an_oversized_request_gets_the_same_413_whoever_it_names(db_url: str, tmp_path: Path) -> None:
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")  # 16 MiB bodies
    state = central_of(app)
    try:
        service.add_gateway(state.engine, state.master_key, "gw-a")
        answers = []
        for gateway_id in ("gw-a", "gw-nobody"):
            headers = {protocol.HEADER_GATEWAY: gateway_id, protocol.HEADER_TIMESTAMP: str(int(time.time())),
                       protocol.HEADER_SIGNATURE: "0" * 64}  # fmt: skip
            answer = app.test_client().post("/api/v1/batches", headers=headers,
                                            environ_overrides={"CONTENT_LENGTH": str(16 * 1024 * 1024 + 1)})  # fmt: skip
            answers.append((answer.status_code, answer.get_data()))
        assert answers[0] == answers[1] and answers[0][0] == 413
    finally:
        state.engine.dispose()


def test_a_secret_that_does_not_open_is_answered_like_an_unknown_id(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    state.engine.dispose()
    (tmp_path / "other.key").write_text("another master key\n")
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "other.key")
    try:
        clock = Clock(time.time())
        known = Gateway("gw-a", issued["secret"], app.test_client(), clock).get("/api/v1/changes")
        unknown = Gateway("gw-nobody", issued["secret"], app.test_client(), clock).get("/api/v1/changes")
        assert known.status_code == unknown.status_code == 401
        assert known.get_data() == unknown.get_data()
        assert "does not open with this master key" in caplog.text  # the operator learns the real cause
    finally:
        central_of(app).engine.dispose()


def test_a_missing_key_file_is_created_only_for_a_database_without_secrets(
    db_url: str, tmp_path: Path
) -> None:
    app = create_app(db_url, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    assert (tmp_path / "central.key").is_file()  # a new database: a new key
    service.add_gateway(state.engine, state.master_key, "gw-a")
    state.engine.dispose()
    mistyped = tmp_path / "centrl.key"
    with pytest.raises(AnjunganError) as refused:
        create_app(db_url, files_dir=tmp_path / "files", key_file=mistyped)
    assert str(refused.value).startswith(f"the master key file {mistyped} is missing")
    assert "\n" not in str(refused.value) and not mistyped.exists()


def test_a_batch_of_too_many_records_is_refused(db_url: str, tmp_path: Path) -> None:
    settings = CentralSettings(db=db_url, max_records=10)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    try:
        issued = service.add_gateway(state.engine, state.master_key, "gw-a")
        gateway = Gateway("gw-a", issued["secret"], app.test_client(), Clock(time.time()))
        refused = gateway.send("readings", readings(1, 11), columnar=False)
        assert refused.status_code == 413 and "at most 10 records" in refused.json["detail"]
        assert gateway.send("readings", readings(1, 10)).json["acked"] == 10
    finally:
        state.engine.dispose()


# --- small things: reads without the write lock, settings that cannot work, private modes ---------------------


def test_a_status_lookup_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    db_file = tmp_path / "central.db"
    settings = CentralSettings(db=f"sqlite:///{db_file}", lock_timeout_s=0.5)
    app = create_app(settings=settings, files_dir=tmp_path / "files", key_file=tmp_path / "central.key")
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "gw-a")
    gateway = Gateway("gw-a", issued["secret"], app.test_client(), Clock(time.time()))
    writer = sqlite3.connect(db_file, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another writer (a batch, an export's neighbour) holds the lock
        answer = _lookup(gateway, NUMBER, None)
        assert answer.status_code == 200, answer.get_json()  # type: ignore[attr-defined]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        state.engine.dispose()


@pytest.mark.parametrize(
    ("value", "says"),
    [("nan", "must be a positive finite number, not nan"), ("inf", "must be a positive finite number, not inf"),
     ("0.0004", "must be at least 0.001 s, not 0.0004")],
)  # fmt: skip
def test_timeouts_that_cannot_work_are_refused_in_one_line(value: str, says: str) -> None:
    for name in ("LOCK_TIMEOUT_S", "STATEMENT_TIMEOUT_S", "IDLE_S"):
        with pytest.raises(ConfigError) as refused:
            CentralSettings.from_env({f"ANJUNGAN_CENTRAL_SERVER_{name}": value})
        assert str(refused.value) == f"central: {name.lower()} {says}"


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_central_s_folders_and_files_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    base = tmp_path / "central"
    previous = os.umask(umask)
    try:
        app = create_app(f"sqlite:///{base / 'central.db'}")  # key and files beside the database
        state = central_of(app)
        sha = service.publish_document(state.engine, state.files(), b"%PDF-1.4 APBDes", title="APBDes",
                                       filename="apbdes.pdf")  # fmt: skip
        state.engine.dispose()
    finally:
        os.umask(previous)

    def mode(path: Path) -> str:
        return f"{stat.S_IMODE(path.stat().st_mode):04o}"

    files = base / "central-files"
    assert {p.name: mode(p) for p in (base, files, files / sha[:2])} == dict.fromkeys(
        ["central", "central-files", sha[:2]], "0700"
    )
    assert mode(base / "central.key") == mode(files / sha[:2] / sha) == mode(base / "central.db") == "0600"
