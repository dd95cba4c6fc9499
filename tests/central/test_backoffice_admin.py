"""Admin pages: accounts (the last active admin stays), days off, the fleet and publishing targets."""

from __future__ import annotations

import json

from flask import Flask

from sync.central.backoffice import accounts, audit
from tests.central.conftest import T0, Clock, central_of
from tests.central.officers import CONFIRM, add_officer, logged_in, login, post


def test_the_last_active_admin_cannot_be_deactivated(app: Flask) -> None:
    admin = logged_in(app, "admin1", "admin")
    refused = post(admin, "/pengguna/admin1/nonaktif", CONFIRM, page="/pengguna")
    assert refused.status_code == 409
    assert "satu-satunya admin yang aktif" in refused.get_data(as_text=True)
    engine = central_of(app).engine
    assert {u["username"]: u["active"] for u in accounts.list_users(engine)} == {"admin1": True}
    assert admin.get("/pengguna").status_code == 200  # still logged in, still an admin
    add_officer(app, "admin2", "admin")
    assert post(admin, "/pengguna/admin2/nonaktif", CONFIRM, page="/pengguna").status_code == 302
    assert post(admin, "/pengguna/admin1/nonaktif", CONFIRM, page="/pengguna").status_code == 409
    assert post(admin, "/pengguna/admin2/aktif", page="/pengguna").status_code == 302
    assert (
        post(admin, "/pengguna/admin1/nonaktif", CONFIRM, page="/pengguna").status_code == 302
    )  # admin2 is left
    assert {u["username"]: u["active"] for u in accounts.list_users(engine)} == {
        "admin1": False,
        "admin2": True,
    }


def test_adding_a_user_asks_for_a_role_and_speaks_plain_words(app: Flask) -> None:
    admin = logged_in(app, "admin1", "admin")
    page = admin.get("/pengguna").get_data(as_text=True)
    assert '<option selected value="">— pilih peran —</option>' in page  # no privileged default
    assert "ppid — PPID Utama" in page and "--opd" not in page
    no_role = post(admin, "/pengguna", {"username": "budi", "role": ""}, page="/pengguna")
    assert no_role.status_code == 400 and "Peran: Pilih peran pengguna." in no_role.get_data(as_text=True)
    no_opd = post(admin, "/pengguna", {"username": "budi", "role": "pelaksana"}, page="/pengguna")
    text = no_opd.get_data(as_text=True)
    assert (
        no_opd.status_code == 400 and "pilih OPD-nya" in text and "--opd" not in text and "give" not in text
    )
    bad_name = post(admin, "/pengguna", {"username": "Budi Santoso", "role": "ppid"}, page="/pengguna")
    assert bad_name.status_code == 400 and "tanpa spasi" in bad_name.get_data(as_text=True)
    engine = central_of(app).engine
    assert [u["username"] for u in accounts.list_users(engine)] == ["admin1"]
    made = post(admin, "/pengguna", {"username": "budi", "role": "ppid"}, page="/pengguna")
    assert made.status_code == 200 and "Kata sandi untuk budi" in made.get_data(as_text=True)
    taken = post(admin, "/pengguna", {"username": "budi", "role": "atasan"}, page="/pengguna")
    assert taken.status_code == 400 and "Nama pengguna budi sudah dipakai." in taken.get_data(as_text=True)
    assert {u["username"]: u["role"] for u in accounts.list_users(engine)} == {
        "admin1": "admin",
        "budi": "ppid",
    }


def test_deactivating_an_account_asks_first(app: Flask) -> None:
    admin = logged_in(app, "admin1", "admin")
    add_officer(app, "sari", "ppid")
    engine = central_of(app).engine

    def active() -> bool:
        return {u["username"]: u["active"] for u in accounts.list_users(engine)}["sari"]

    users = admin.get("/pengguna").get_data(as_text=True)
    assert 'href="/pengguna/sari/nonaktif"' in users and 'action="/pengguna/sari/nonaktif"' not in users
    asked = admin.get("/pengguna/sari/nonaktif").get_data(as_text=True)
    assert "Nonaktifkan akun sari?" in asked and 'name="konfirmasi" value="ya"' in asked
    assert 'name="csrf_token"' in asked and 'action="/pengguna/sari/nonaktif"' in asked and active()
    unconfirmed = post(admin, "/pengguna/sari/nonaktif", page="/pengguna")
    assert unconfirmed.status_code == 200 and "Nonaktifkan akun sari?" in unconfirmed.get_data(as_text=True)
    assert active()
    assert admin.post("/pengguna/sari/nonaktif", data=CONFIRM).status_code == 400 and active()  # CSRF kept
    assert post(admin, "/pengguna/sari/nonaktif", CONFIRM, page="/pengguna").status_code == 302
    assert not active()
    assert admin.get("/pengguna/nobody/nonaktif").status_code == 404
    assert admin.get("/pengguna/sari/reset").status_code == 404  # only a deactivation has a confirmation page


def test_a_locked_account_shows_until_when_and_an_admin_unlocks_it(app: Flask, clock: Clock) -> None:
    app.config["BACKOFFICE_LIMIT_LOGIN"] = (
        "100 per minute"  # the account's lockout here, not the address's limit
    )
    add_officer(app, "rina", "ppid")
    for _ in range(accounts.MAX_FAILURES):
        assert login(app.test_client(), "rina", "salah-sandi-sekali-lagi").status_code == 401
    assert login(app.test_client(), "rina").status_code == 401  # locked
    admin = logged_in(app, "admin1", "admin")
    row = admin.get("/pengguna").get_data(as_text=True).split('id="user-rina"')[1].split("</tr>")[0]
    assert "terkunci sampai 2026-11-23 23:15 WIB" in row and "5 kali salah kata sandi" in row
    assert 'action="/pengguna/rina/buka-kunci"' in row
    assert post(admin, "/pengguna/rina/buka-kunci", page="/pengguna").status_code == 302
    after = admin.get("/pengguna").get_data(as_text=True)
    assert "Kunci akun rina dibuka" in after and "terkunci sampai" not in after
    assert login(app.test_client(), "rina").status_code == 302
    entries, total = audit.entries(central_of(app).engine, action="user-unlock")
    assert total == 1 and entries[0]["username"] == "admin1" and entries[0]["target"] == "user:rina"
    assert json.loads(entries[0]["before"]) == {
        "failed_logins": 5,
        "locked_until_ms": int(T0 * 1000) + accounts.LOCK_MS,
    }
    assert json.loads(entries[0]["after"]) == {"failed_logins": 0, "locked_until_ms": None}
    clock.now += accounts.LOCK_MS / 1000 + 1  # a lock that ran out by itself is not shown
    for _ in range(accounts.MAX_FAILURES):
        login(app.test_client(), "rina", "salah-sandi-sekali-lagi")
    clock.now += accounts.LOCK_MS / 1000 + 1
    again = app.test_client()
    assert login(again, "admin1").status_code == 302
    page = again.get("/pengguna")
    assert page.status_code == 200 and 'id="user-rina"' in page.get_data(as_text=True)
    assert "terkunci sampai" not in page.get_data(as_text=True)
