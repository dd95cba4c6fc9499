"""The satisfaction survey at the kiosk (docs/skm.md): offered after a receipt and a status check, every
question skippable, one rating per form, and anonymous: the stored row holds no identity."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from gateway.store import Store
from tests.kiosk.helpers import csrf, number_on, post, request_data

IDENTITY_COLUMNS = {"number", "nik", "name", "nama", "phone", "session", "at", "offset", "ip", "code"}


def _key(page: str) -> str:
    match = re.search(r'id="kunci" name="kunci" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="kunci" type="hidden" value="([^"]+)"', page
    )
    assert match, "no form key on the survey"
    return match.group(1)


def test_the_receipt_and_the_status_page_offer_the_survey(client: FlaskClient) -> None:
    number = number_on(post(client, "/permohonan", request_data()))
    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    assert 'href="/survei/permohonan"' in receipt
    assert number not in client.get("/survei/permohonan").get_data(as_text=True)  # the survey names no one
    status = client.get(f"/status/{number}").get_data(as_text=True)
    assert 'href="/survei/cek-status"' in status
    assert client.get("/survei/lainnya").status_code == 404


def test_a_rating_is_stored_once_with_no_identity(client: FlaskClient, kiosk_store: Store) -> None:
    post(
        client, "/permohonan", request_data(), follow_redirects=True
    )  # a citizen's submission, then the survey
    page = client.get("/survei/permohonan").get_data(as_text=True)
    answers = {"csrf_token": csrf(client, "/survei/permohonan"), "kunci": _key(page), "u1": "4", "u3": "2",
               "u7": "3"}  # fmt: skip
    first = client.post("/survei/permohonan", data=answers)
    assert first.status_code == 200 and 'id="survey-done"' in first.get_data(as_text=True)
    assert client.post("/survei/permohonan", data=answers).status_code == 200  # a double tap: one rating
    held = kiosk_store.conn.execute("SELECT day, release_ms FROM ratings_held").fetchall()
    assert len(held) == 1  # held until the kiosk's day is over, then released with the day's others
    day = date.fromisoformat(held[0][0])
    day_ends = datetime.combine(day + timedelta(days=1), time(), ZoneInfo("Asia/Jakarta"))
    assert held[0][1] == int(day_ends.timestamp() * 1000)
    assert kiosk_store.outbox("ratings") == [] and kiosk_store.release_ratings(held[0][1] - 1) == 0
    assert kiosk_store.release_ratings(held[0][1]) == 0  # alone on its day: held (k-anonymity)
    for i in range(4):  # four other citizens' requests rated that day
        kiosk_store.add_rating("request", {"u5": 3}, day=day, uuid=f"other-{i}", release_ms=held[0][1])
    assert kiosk_store.release_ratings(held[0][1]) == 5 and kiosk_store.release_ratings(held[0][1]) == 0
    assert client.post("/survei/permohonan", data=answers).status_code == 200  # a resend after the release
    assert kiosk_store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0] == 0
    rows = kiosk_store.conn.execute("SELECT * FROM ratings WHERE uuid = ?", (answers["kunci"],)).fetchall()
    assert len(rows) == 1 and kiosk_store.conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 5
    for table in ("ratings", "ratings_held"):
        columns = [d[1] for d in kiosk_store.conn.execute(f"PRAGMA table_info({table})")]
        assert not IDENTITY_COLUMNS & set(columns), table
    columns = [d[1] for d in kiosk_store.conn.execute("PRAGMA table_info(ratings)")]
    row = dict(zip(columns, rows[0], strict=True))
    assert row["service"] == "request" and row["day"] == day.isoformat()
    assert (row["u1"], row["u2"], row["u3"], row["u7"], row["u9"]) == (4, None, 2, 3, None)
    submission = kiosk_store.conn.execute("SELECT uuid, number, idempotency_key FROM submissions").fetchone()
    assert not set(submission) & {str(v) for v in row.values()}  # nothing of the submission in the rating
    outbox = [r for r in kiosk_store.outbox("ratings") if r["uuid"] == answers["kunci"]]
    assert outbox[0]["ratings"] == {"u1": 4, "u3": 2, "u7": 3} and set(outbox[0]) == {
        "seq", "uuid", "service", "day", "ratings"}  # fmt: skip


def test_a_days_ratings_enter_the_stream_in_random_order(kiosk_store: Store) -> None:
    """The seqs of a day's ratings do not follow the order they were made in (nor the day's submissions)."""
    for i in range(40):
        kiosk_store.add_rating("request", {"u1": 1 + i % 4}, day=date(2026, 11, 23), uuid=f"r-{i:02d}",
                               release_ms=1000)  # fmt: skip
    assert kiosk_store.release_ratings(1000) == 40
    order = [u for (u,) in kiosk_store.conn.execute("SELECT uuid FROM ratings ORDER BY seq")]
    assert sorted(order) == [f"r-{i:02d}" for i in range(40)] and order != sorted(order)


def test_skipping_everything_stores_nothing(client: FlaskClient, kiosk_store: Store) -> None:
    page = client.get("/survei/cek-status").get_data(as_text=True)
    answer = client.post("/survei/cek-status", data={"csrf_token": csrf(client, "/survei/cek-status"),
                                                     "kunci": _key(page)})  # fmt: skip
    assert answer.status_code == 200
    assert "Tidak ada penilaian yang disimpan." in answer.get_data(as_text=True)
    assert kiosk_store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0] == 0


def test_a_bad_answer_is_refused(client: FlaskClient, kiosk_store: Store) -> None:
    page = client.get("/survei/pengaduan").get_data(as_text=True)
    answer = client.post("/survei/pengaduan", data={"csrf_token": csrf(client, "/survei/pengaduan"),
                                                    "kunci": _key(page), "u1": "5"})  # fmt: skip
    assert answer.status_code == 400
    assert kiosk_store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0] == 0


def test_the_store_refuses_what_is_not_a_rating(kiosk_store: Store) -> None:
    import pytest

    from gateway.errors import StoreError

    for service, ratings in [("x", {"u1": 3}), ("request", {"u1": 0}), ("request", {"u10": 2}),
                             ("request", {}), ("request", {"u1": True})]:  # fmt: skip
        with pytest.raises(StoreError):
            kiosk_store.add_rating(service, ratings, day=date(2026, 11, 30), uuid="k")
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself keeps a rating's row small
        kiosk_store.conn.execute("INSERT INTO ratings (uuid, service) VALUES ('x', 'request')")


def _held(kiosk_store: Store) -> int:
    return int(kiosk_store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0])


def _rate(client: FlaskClient, slug: str, key: str | None = "new") -> tuple[int, str]:
    """Send the survey of ``slug`` with one rating; ``key``: "new" (a fresh form), None (none) or a key."""
    shown = client.get(f"/survei/{slug}")
    page = shown.get_data(as_text=True)
    if shown.status_code == 403:  # rated already in this session: said before the questions; a POST anyway
        assert 'id="survey-refused"' in page
        data = {"csrf_token": csrf(client, "/status"), "u2": "4"}  # the session's token, from another form
    else:
        data = {"csrf_token": csrf(client, f"/survei/{slug}"), "u2": "4"}
    if key == "new":
        data["kunci"] = _key(page) if shown.status_code == 200 else str(uuid.uuid4())
    elif key is not None:
        data["kunci"] = key
    reply = client.post(f"/survei/{slug}", data=data)
    return reply.status_code, reply.get_data(as_text=True)


def test_a_rating_needs_a_service_given_in_this_session(client: FlaskClient, kiosk_store: Store) -> None:
    status, page = _rate(client, "permohonan")
    assert status == 403 and 'id="survey-refused"' in page  # refused politely: nothing stored
    assert _held(kiosk_store) == 0

    number = number_on(post(client, "/permohonan", request_data()))
    client.get(f"/tanda-terima/{number}")
    client.get(f"/tanda-terima/{number}")  # shown again: still one rating
    assert _rate(client, "pengaduan")[0] == 403  # another service than the one given
    status, page = _rate(client, "permohonan")
    assert status == 200 and 'id="survey-done"' in page and _held(kiosk_store) == 1
    for key in ("new", None, "9b2f4c1e-0000-4000-8000-000000000000"):  # stuffing: the same token, new keys
        assert _rate(client, "permohonan", key)[0] == 403
    assert _held(kiosk_store) == 1

    client.get(f"/status/{number}")  # a status checked: the check may be rated once
    assert _rate(client, "cek-status")[0] == 200 and _rate(client, "cek-status")[0] == 403
    assert _held(kiosk_store) == 2

    second = number_on(post(client, "/permohonan", request_data()))  # a second request: no second rating
    client.get(f"/tanda-terima/{second}")
    assert _rate(client, "permohonan")[0] == 403 and _held(kiosk_store) == 2

    client.post("/selesai")  # the next citizen starts with nothing to rate, then rates what they were given
    assert _rate(client, "permohonan")[0] == 403 and _held(kiosk_store) == 2
    third = number_on(post(client, "/permohonan", request_data()))
    client.get(f"/tanda-terima/{third}")
    assert _rate(client, "permohonan")[0] == 200 and _held(kiosk_store) == 3


def test_looking_up_many_numbers_gives_one_rating_per_session(make_app, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    """PermenPANRB 14/2017: one response per service user. Real numbers looked up one after the other (with or
    without their codes) give the session one rating of the status check, not one per number."""
    app = make_app()
    filer, farmer = app.test_client(), app.test_client()
    numbers = [number_on(post(filer, "/permohonan", request_data())) for _ in range(3)]
    for number in numbers:
        assert farmer.get(f"/status/{number}").status_code == 200
        if number == numbers[0]:
            assert _rate(farmer, "cek-status")[0] == 200
    assert _rate(farmer, "cek-status")[0] == 403 and _held(kiosk_store) == 1
    assert _rate(farmer, "permohonan")[0] == 403  # a status check rates the check, not the request
    # once rated, the link is no longer offered, and the survey says so before its nine questions
    assert 'id="survey-link"' not in farmer.get(f"/status/{numbers[2]}").get_data(as_text=True)
    again = farmer.get("/survei/cek-status")
    assert again.status_code == 403 and 'id="survey-refused"' in again.get_data(as_text=True)
    farmer.post("/selesai")  # a new kiosk session: a new citizen may rate their check
    farmer.get(f"/status/{numbers[1]}")
    assert _rate(farmer, "cek-status")[0] == 200 and _held(kiosk_store) == 2


def test_the_survey_limit_is_per_session_not_per_address(make_app, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(KIOSK_LIMIT_SUBMIT="2 per minute")
    first = app.test_client()
    assert [_rate(first, "cek-status")[0] for _ in range(3)] == [403, 403, 429]
    honest = app.test_client()  # the next citizen at the same screen (same address)
    number = number_on(post(honest, "/permohonan", request_data()))
    honest.get(f"/tanda-terima/{number}")
    assert _rate(honest, "permohonan")[0] == 200 and _held(kiosk_store) == 1
