"""Admin pages: accounts (the last active admin stays), days off, the fleet and publishing targets."""

from __future__ import annotations

from flask import Flask

from sync.central.backoffice import accounts
from tests.central.conftest import central_of
from tests.central.officers import add_officer, logged_in, post


def test_the_last_active_admin_cannot_be_deactivated(app: Flask) -> None:
    admin = logged_in(app, "admin1", "admin")
    refused = post(admin, "/pengguna/admin1/nonaktif", page="/pengguna")
    assert refused.status_code == 409
    assert "satu-satunya admin yang aktif" in refused.get_data(as_text=True)
    engine = central_of(app).engine
    assert {u["username"]: u["active"] for u in accounts.list_users(engine)} == {"admin1": True}
    assert admin.get("/pengguna").status_code == 200  # still logged in, still an admin
    add_officer(app, "admin2", "admin")
    assert post(admin, "/pengguna/admin2/nonaktif", page="/pengguna").status_code == 302
    assert post(admin, "/pengguna/admin1/nonaktif", page="/pengguna").status_code == 409
    assert post(admin, "/pengguna/admin2/aktif", page="/pengguna").status_code == 302
    assert post(admin, "/pengguna/admin1/nonaktif", page="/pengguna").status_code == 302  # admin2 is left
    assert {u["username"]: u["active"] for u in accounts.list_users(engine)} == {
        "admin1": False,
        "admin2": True,
    }
