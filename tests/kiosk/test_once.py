"""One form, one submission: the same form posted twice (in a row or at once) gets one registration number."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import date
from typing import Any

import pytest
import requests
from escpos.printer import Dummy
from flask.testing import FlaskClient

from gateway.errors import StoreError
from gateway.store import Store
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import complaint_data, number_on, request_data

KEY_RE = re.compile(r'name="idempotency_key" type="hidden" value="([0-9a-f-]{36})"')
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0])


def served_form(client: FlaskClient, path: str) -> dict[str, str]:
    """The hidden fields of the form as served: its CSRF token and its idempotency key."""
    page = client.get(path).get_data(as_text=True)
    csrf, key = CSRF_RE.search(page), KEY_RE.search(page)
    assert csrf and key, f"no CSRF token or idempotency key on {path}"
    return {"csrf_token": csrf.group(1), "idempotency_key": key.group(1)}


# -- the store -----------------------------------------------------------------------------------------------
def test_store_keeps_one_submission_per_key(store: Store) -> None:
    key = str(uuid.uuid4())
    args: dict[str, Any] = {
        "gateway_id": "k",
        "due_date": None,
        "day": date(2026, 4, 1),
        "idempotency_key": key,
    }
    first = store.add_submission("complaint", {"judul": "Jalan rusak"}, {"nama": "Budi"}, **args)
    again = store.add_submission("complaint", {"judul": "Jalan rusak"}, {"nama": "Budi"}, **args)
    assert first["repeat"] is False and again["repeat"] is True
    assert again["number"] == first["number"] and again["seq"] == first["seq"]
    assert count(store) == 1
    other = store.add_submission("complaint", {"judul": "Jalan rusak"}, {"nama": "Budi"},
                                 **{**args, "idempotency_key": str(uuid.uuid4())})  # fmt: skip
    assert other["number"] != first["number"] and count(store) == 2
    without = [store.add_submission("complaint", {}, None, gateway_id="k", due_date=None) for _ in range(2)]
    assert without[0]["number"] != without[1]["number"] and count(store) == 4
    with pytest.raises(StoreError, match="belongs to a complaint"):
        store.add_submission("request", {}, None, **args)
    with pytest.raises(StoreError, match="1 to 64"):
        store.add_submission("complaint", {}, None, **{**args, "idempotency_key": "x" * 65})
    assert count(store) == 4


def test_store_concurrent_repeats_get_one_number(store: Store) -> None:
    key, start = str(uuid.uuid4()), threading.Barrier(8)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def tap() -> None:
        start.wait(timeout=30)
        record = store.add_submission("request", {"rincian": "APBDes"}, {"nama": "Siti"}, gateway_id="k",
                                      due_date=None, idempotency_key=key)  # fmt: skip
        with lock:
            results.append(record)

    threads = [threading.Thread(target=tap, name=f"tap-{i}") for i in range(8)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    assert len(results) == 8
    assert len({r["number"] for r in results}) == 1
    assert sorted(r["repeat"] for r in results) == [False] + [True] * 7
    assert count(store) == 1


def test_migration_adds_the_key_to_an_existing_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from gateway.store import db
    from gateway.store.schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = db.connect(path)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    for name, sql in MIGRATIONS[: [n for n, _ in MIGRATIONS].index("0900-submission-idempotency-key")]:
        for statement in db._statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO migrations VALUES (?, 0)", (name,))
    conn.execute("INSERT INTO submissions (uuid, number, kind, day, at) VALUES ('u', 'K-260401-00011', "
                 "'complaint', '2026-04-01', 0)")  # fmt: skip
    conn.close()
    with Store.open(path) as store:
        assert store.submission("K-260401-00011") is not None
        store.add_submission("complaint", {}, None, gateway_id="k", due_date=None, idempotency_key="a")
        with pytest.raises(sqlite3.IntegrityError):  # the unique index backs the check
            store.conn.execute("UPDATE submissions SET idempotency_key = 'a' WHERE number = 'K-260401-00011'")


# -- the kiosk -----------------------------------------------------------------------------------------------
def test_each_served_form_has_its_own_key(client: FlaskClient) -> None:
    for path in ("/permohonan", "/pengaduan", "/keberatan"):
        first, second = served_form(client, path), served_form(client, path)
        assert first["idempotency_key"] != second["idempotency_key"]


@pytest.mark.parametrize(
    ("path", "data"), [("/permohonan", request_data()), ("/pengaduan", complaint_data())]
)
def test_a_resent_form_gets_the_same_receipt(
    client: FlaskClient, kiosk_store: Store, printer: Dummy, path: str, data: dict[str, Any]
) -> None:
    form = {**data, **served_form(client, path)}
    first = client.post(path, data=form)
    second = client.post(path, data=form)  # a resend after a slow answer, or a second tap
    assert first.status_code == second.status_code == 302
    number = number_on(first)
    assert number_on(second) == number
    assert count(kiosk_store) == 1
    assert printer.output.count(b"TANDA TERIMA") == 1  # one slip
    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    assert number in receipt and "sudah dicetak" in receipt
    # the same complaint filed again on a new form is a new submission
    third = client.post(path, data={**data, **served_form(client, path)})
    assert number_on(third) != number and count(kiosk_store) == 2


def test_a_resend_whose_first_answer_was_lost_shows_the_same_status_code(
    client: FlaskClient, kiosk_store: Store
) -> None:
    """The first answer (and the session cookie it set) never reached the browser: the resend still shows the
    code printed on the first slip, although only the code's hash is stored."""
    form = {**complaint_data(), **served_form(client, "/pengaduan")}
    cookie_before = client.get_cookie("anjungan")
    assert cookie_before is not None
    first = client.post("/pengaduan", data=form)
    number = number_on(first)
    code = re.search(
        r'id="receipt-code">([0-9A-Z-]+)<', client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    )
    client.set_cookie("anjungan", cookie_before.value)  # as if the first answer had been lost
    second = client.post("/pengaduan", data=form)
    assert number_on(second) == number and count(kiosk_store) == 1
    again = re.search(
        r'id="receipt-code">([0-9A-Z-]+)<', client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    )
    assert code and again and code.group(1) == again.group(1)
    raw = b"".join(p.read_bytes() for p in kiosk_store.path.parent.glob("anjungan.db*"))
    assert code.group(1).replace("-", "").encode() not in raw


def test_a_form_corrected_after_an_error_keeps_its_key(client: FlaskClient, kiosk_store: Store) -> None:
    hidden = served_form(client, "/permohonan")
    refused = client.post("/permohonan", data={**request_data(nik="1"), **hidden})
    assert refused.status_code == 400
    assert f'value="{hidden["idempotency_key"]}"' in refused.get_data(as_text=True)
    first = client.post("/permohonan", data={**request_data(), **hidden})
    second = client.post("/permohonan", data={**request_data(), **hidden})
    assert number_on(first) == number_on(second) and count(kiosk_store) == 1


def test_a_post_without_a_good_key_is_still_saved(client: FlaskClient, kiosk_store: Store) -> None:
    hidden = served_form(client, "/pengaduan")
    for key in ("", "not-a-key"):
        response = client.post("/pengaduan", data={**complaint_data(), **hidden, "idempotency_key": key})
        assert response.status_code == 302
    assert count(kiosk_store) == 2
    assert (
        kiosk_store.conn.execute("SELECT count(*) FROM submissions WHERE idempotency_key IS NULL").fetchone()[
            0
        ]
        == 2
    )


def test_concurrent_repeats_against_a_live_kiosk(live_server: LiveServer, kiosk_store: Store) -> None:
    session = requests.Session()
    page = session.get(live_server.url + "/pengaduan", timeout=30).text
    csrf, key = CSRF_RE.search(page), KEY_RE.search(page)
    assert csrf and key
    form = {**complaint_data(), "csrf_token": csrf.group(1), "idempotency_key": key.group(1)}
    cookies = session.cookies.get_dict()
    start = threading.Barrier(6)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def tap() -> None:
        start.wait(timeout=30)
        answer = requests.post(live_server.url + "/pengaduan", data=form, cookies=cookies,
                               allow_redirects=False, timeout=60)  # fmt: skip
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=tap, name=f"tap-{i}") for i in range(6)]
    [t.start() for t in threads]
    [t.join(timeout=90) for t in threads]
    session.close()
    assert [a.status_code for a in answers] == [302] * 6
    assert len({a.headers["Location"] for a in answers}) == 1
    assert count(kiosk_store) == 1
