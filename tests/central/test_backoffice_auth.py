"""The back office's accounts: login at /, server-side sessions, idle timeout, lockout, CSRF, rate limit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from sync.central.backoffice import accounts
from sync.central.backoffice import audit as trail
from sync.central.backoffice.models import audit, sessions, users
from sync.central.cli import central_group
from tests.central.conftest import Clock, central_of
from tests.central.officers import CONFIRM, PASSWORD, add_officer, logged_in, login, post, token


def test_root_is_the_login_page_and_only_login_and_api_are_open(app: Flask, client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert client.get("/api/v1/time").status_code == 200
    for path in ("/kotak-masuk", "/armada", "/pengguna", "/audit", "/audit.csv", "/pengaturan", "/templat"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/?next="), path
    with client.get("/bo-static/backoffice.css") as css:
        assert css.status_code == 200 and b"--accent" in css.data


def test_login_lands_on_the_role_home_and_logout_ends_the_session_on_the_server(app: Flask) -> None:
    client = logged_in(app, "sari", "ppid")
    assert client.get("/kotak-masuk").status_code == 200
    stolen = client.get_cookie("anjungan_bo")
    assert stolen is not None
    assert post(client, "/keluar").status_code == 302
    assert client.get("/kotak-masuk").status_code == 302
    replay = app.test_client()  # the old cookie, replayed after logout, opens nothing
    replay.set_cookie("anjungan_bo", stolen.value)
    assert replay.get("/kotak-masuk").status_code == 302


def test_idle_session_expires(app: Flask, clock: Clock) -> None:
    client = logged_in(app, "budi", "ppid")
    clock.now += 14 * 60
    assert client.get("/kotak-masuk").status_code == 200  # activity keeps it alive
    clock.now += 14 * 60
    assert client.get("/kotak-masuk").status_code == 200
    clock.now += 16 * 60
    assert client.get("/kotak-masuk").status_code == 302


def test_wrong_passwords_lock_the_account_for_a_while(app: Flask, client: FlaskClient, clock: Clock) -> None:
    add_officer(app, "rina", "ppid")
    for _ in range(accounts.MAX_FAILURES):
        assert login(client, "rina", "salah-sandi-sekali-lagi").status_code == 401
    assert login(client, "rina").status_code == 401  # the right password, but locked
    clock.now += accounts.LOCK_MS / 1000 + 1
    assert login(client, "rina").status_code == 302
    assert login(app.test_client(), "nobody").status_code == 401


def test_every_form_needs_its_csrf_token(app: Flask) -> None:
    add_officer(app, "tono", "ppid")
    client = app.test_client()
    assert client.post("/", data={"username": "tono", "password": PASSWORD}).status_code == 400
    client = logged_in(app, "tini", "admin")
    assert client.post("/keluar").status_code == 400
    assert client.post("/pengguna", data={"username": "x1", "role": "ppid"}).status_code == 400
    assert client.get("/pengguna").status_code == 200  # still logged in


def test_login_is_rate_limited_per_client(app: Flask, client: FlaskClient) -> None:
    app.config["BACKOFFICE_LIMIT_LOGIN"] = "3 per minute"
    csrf = token(client)
    codes = [client.post("/", data={"username": f"u{i}", "password": "x" * 12, "csrf_token": csrf}).status_code
             for i in range(4)]  # fmt: skip
    assert codes == [401, 401, 401, 429]


def test_cli_add_user_prints_the_password_once_and_hashes_it(app: Flask, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--db", db_url, "--files-dir", str(tmp_path / "files")]
    env = {"ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")}
    result = runner.invoke(central_group, [*args, "add-user", "Dewi", "--role", "pelaksana", "--opd", "dinkes"],
                           env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["user"] == "dewi" and shown["opd"] == "dinkes" and len(shown["password"]) >= 16
    result = runner.invoke(central_group, [*args, "add-user", "joko", "--role", "teknisi", "--password-stdin"],
                           input="sandi-rahasia-teknisi\n", env=env)  # fmt: skip
    assert result.exit_code == 0 and "password" not in json.loads(result.output)
    bad = runner.invoke(central_group, [*args, "add-user", "ani", "--role", "pelaksana"], env=env)
    assert bad.exit_code == 1 and "OPD" in bad.output
    with central_of(app).engine.connect() as conn:
        hashes = conn.execute(sa.select(users.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes) and shown["password"] not in "".join(hashes)
    client = app.test_client()
    assert login(client, "dewi", shown["password"]).status_code == 302
    assert login(app.test_client(), "joko", "sandi-rahasia-teknisi").status_code == 302


def test_fleet_overview_is_behind_the_login(app: Flask, client: FlaskClient) -> None:
    from sync.central import service

    state = central_of(app)
    service.add_gateway(state.engine, state.master_key, "dmk-krajan")
    teknisi = logged_in(app, "agus", "teknisi")
    page = teknisi.get("/armada").get_data(as_text=True)
    assert "dmk-krajan" in page and "belum pernah" in page
    assert teknisi.get("/kotak-masuk").status_code == 403


def test_bahasa_indonesia_first_english_on_request(app: Flask, client: FlaskClient) -> None:
    assert "Masuk ke layanan PPID" in client.get("/").get_data(as_text=True)
    assert client.get("/bahasa/en?next=/").status_code == 302
    assert "Log in to the PPID service" in client.get("/").get_data(as_text=True)


def test_every_back_office_string_has_an_english_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    method_map = [
        ("sync/central/backoffice/**.py", "python"),
        ("sync/central/backoffice/templates/**.html", "jinja2"),
    ]
    found = {message[2] if isinstance(message[2], str) else message[2][0]
             for message in extract_from_dir(str(root), method_map, keywords={"_": None, "_l": None, "gettext": None,
                                                                              "lazy_gettext": None})}  # fmt: skip
    po = root / "sync/central/backoffice/translations/en/LC_MESSAGES/messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}  # a fuzzy guess is not compiled
    assert found - translated == set()
    from babel.messages.mofile import read_mo

    with po.with_suffix(".mo").open("rb") as fh:  # the compiled catalogue matches the .po
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == {m.id: m.string for m in catalog if m.id}


def test_disabling_an_account_ends_its_sessions_for_good(app: Flask) -> None:
    """Re-enabling the account does not revive a cookie of a session that was live when it was disabled."""
    officer = logged_in(app, "sari", "ppid")
    cookie = officer.get_cookie("anjungan_bo")
    assert cookie is not None and officer.get("/kotak-masuk").status_code == 200
    admin = logged_in(app, "admin1", "admin")
    assert post(admin, "/pengguna/sari/nonaktif", CONFIRM, page="/pengguna").status_code == 302
    assert officer.get("/kotak-masuk").status_code == 302
    assert post(admin, "/pengguna/sari/aktif", page="/pengguna").status_code == 302
    replay = app.test_client()
    replay.set_cookie("anjungan_bo", cookie.value)
    assert replay.get("/kotak-masuk").status_code == 302
    with central_of(app).engine.connect() as conn:
        ended = conn.execute(
            sa.select(sessions.c.ended_ms).join(users).where(users.c.username == "sari")
        ).all()
    assert ended and all(row.ended_ms is not None for row in ended)
    assert login(app.test_client(), "sari").status_code == 302  # a new login works


def test_the_csrf_token_changes_at_login_and_at_logout(app: Flask) -> None:
    add_officer(app, "tono", "ppid")
    client = app.test_client()
    before = token(client, "/")
    assert login(client, "tono").status_code == 302
    during = token(client, "/kotak-masuk")
    assert during != before
    stale = client.post("/keluar", data={"csrf_token": before})  # the token seen before the login is dead
    assert stale.status_code == 400
    assert post(client, "/keluar").status_code == 302
    after = token(client, "/")
    assert after not in (before, during)


def test_a_refused_login_never_records_what_was_typed_as_an_unknown_name(app: Flask) -> None:
    add_officer(app, "rina", "ppid")
    typed = "Rahasia-Sekali-2026!"  # a password typed into the name field
    login(app.test_client(), typed, "apa-saja-yang-panjang")
    login(app.test_client(), "rina", "bukan-sandinya-ya-pak")
    with central_of(app).engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit).where(audit.c.action == "login-refused").order_by(audit.c.id)
        ).all()
    unknown, known = rows
    assert typed.lower() not in str(tuple(unknown)).lower() and typed not in str(tuple(unknown))
    assert unknown.username == "unknown user" and unknown.target.startswith("user-unknown:")
    assert known.username == "rina" and known.target == "user:rina"  # an existing account keeps its name


def test_huge_numbers_in_addresses_are_bounded_not_a_server_error(app: Flask) -> None:
    ppid, admin = logged_in(app, "ppid1", "ppid"), logged_in(app, "admin1", "admin")
    huge = "99999999999999999999"
    assert ppid.get(f"/kotak-masuk?page={huge}").status_code == 200
    assert ppid.get("/kotak-masuk?page=-5").status_code == 200
    assert admin.get(f"/audit?page={huge}").status_code == 200
    assert post(ppid, f"/templat/{huge}/hapus", page="/templat").status_code == 404
    assert ppid.get(f"/berkas/dmk-wonosalam/DMK-X-261123-00011/lampiran/{huge}").status_code == 404


def test_an_unknown_address_is_the_back_office_page_and_json_only_for_machines(app: Flask) -> None:
    """An address no page answers, or a kiosk/node/measurement the central does not know, is the back office's
    own 404 page in the officer's language; the machine interfaces (sync API, Open311, open data) keep JSON."""
    teknisi = logged_in(app, "tek1", "teknisi")
    for path in ("/armada/anjungan/nosuch", "/grafik/nosuch/node/water_cm", "/nope-404-page"):
        answer = teknisi.get(path)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 404 and answer.mimetype == "text/html", path
        assert "<h1>Tidak ditemukan</h1>" in page and "Alamat ini tidak ada" in page and '"error"' not in page
    teknisi.get("/bahasa/en")
    english = teknisi.get("/armada/anjungan/nosuch").get_data(as_text=True)
    assert "<h1>Not found</h1>" in english
    anonymous = app.test_client().get("/nope-404-page")
    assert anonymous.status_code == 404 and "Tidak ditemukan" in anonymous.get_data(as_text=True)
    for path in ("/api/v1/nosuch", "/opendata/v1/nosuch", "/open311/v2/nosuch"):
        answer = app.test_client().get(path)
        assert answer.status_code == 404 and answer.mimetype == "application/json", path
        assert answer.get_json()["error"] == "not found"
    assert app.test_client().post("/metrics").mimetype == "application/json"  # 405 of a machine path


def test_back_office_pages_carry_the_security_headers(app: Flask, db_url: str, tmp_path: Path) -> None:
    client = logged_in(app, "ppid1", "ppid")
    for path in ("/", "/kotak-masuk", "/nope-404-page", "/laporan"):
        answer = client.get(path)
        assert answer.status_code == 404 if path.startswith("/nope") else answer.status_code < 400, path
        headers = answer.headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'none'" in policy, path
        assert "javascript:" not in answer.get_data(as_text=True) and "<script" not in answer.get_data(
            as_text=True
        )
    cookie = client.get_cookie("anjungan_bo")
    assert cookie is not None and not cookie.secure  # plain HTTP by default (the demo, tests)
    from sync.central.app import create_app
    from sync.central.settings import CentralSettings

    https = create_app(settings=CentralSettings(db=db_url, cookie_secure=True), files_dir=tmp_path / "f2",
                       key_file=tmp_path / "central.key")  # fmt: skip
    try:
        add_officer(https, "tls1", "ppid")
        secure = https.test_client()
        answer = login(secure, "tls1")
        assert answer.status_code == 302
        assert "Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    finally:
        central_of(https).engine.dispose()


def test_the_login_page_says_when_the_session_ran_idle(app: Flask, clock: Clock) -> None:
    client = logged_in(app, "budi", "ppid")
    clock.now += 16 * 60
    answer = client.get("/kotak-masuk")
    assert answer.status_code == 302 and answer.location.startswith("/?next=")
    page = client.get(answer.location).get_data(as_text=True)
    assert "Sesi Anda berakhir karena tidak ada kegiatan selama 15 menit. Silakan masuk lagi." in page
    later = client.get("/kotak-masuk")  # the session ended already: an ordinary "log in first"
    page = client.get(later.location).get_data(as_text=True)
    assert "Silakan masuk terlebih dahulu." in page and "Sesi Anda berakhir" not in page
    form = logged_in(app, "sari", "ppid")  # a form sent after the idle time says it too, in English if chosen
    form.get("/bahasa/en?next=/kotak-masuk")
    csrf = token(form, "/kotak-masuk")
    clock.now += 16 * 60
    sent = form.post("/keluar", data={"csrf_token": csrf})
    assert sent.status_code == 302
    page = form.get(sent.location).get_data(as_text=True)
    assert "Your session ended after 15 minutes without activity. Please log in again." in page


def test_the_login_limit_counts_refused_logins_only(app: Flask) -> None:
    """Per address: only refused logins count against the limit; per account: a success resets the count."""
    app.config["BACKOFFICE_LIMIT_LOGIN"] = "3 per minute"
    add_officer(app, "tono", "ppid")
    for _ in range(5):  # officers sharing one office address log in all morning
        assert login(app.test_client(), "tono").status_code == 302
    client = app.test_client()
    assert [login(client, "tono", "salah-sandi-sekali-lagi").status_code for _ in range(2)] == [401, 401]
    assert login(app.test_client(), "tono").status_code == 302  # the account's count starts again
    assert login(client, "tono", "salah-sandi-sekali-lagi").status_code == 401  # the address's third refusal
    with central_of(app).engine.connect() as conn:
        failed = conn.execute(sa.select(users.c.failed_logins).where(users.c.username == "tono")).scalar_one()
    assert failed == 1
    assert login(app.test_client(), "tono").status_code == 429  # the address's refusals are used up


def test_behind_a_reverse_proxy_the_client_is_who_the_proxy_says(
    app: Flask, db_url: str, tmp_path: Path, clock: Clock
) -> None:
    from sync.central.app import create_app
    from sync.central.settings import CentralSettings

    proxied = create_app(settings=CentralSettings(db=db_url, proxy_count=1), files_dir=tmp_path / "f3",
                         key_file=tmp_path / "central.key", clock=clock)  # fmt: skip
    try:
        for central in (proxied, app):
            central.config["BACKOFFICE_LIMIT_LOGIN"] = "2 per minute"
        add_officer(proxied, "tono", "ppid")
        add_officer(proxied, "tini", "ppid")  # the same database as ``app``'s

        def refused(central: Flask, forwarded_for: str, name: str = "tono") -> int:
            client = central.test_client()
            data = {
                "username": name,
                "password": "salah-sandi-sekali-lagi",
                "csrf_token": token(client, "/"),
            }
            return client.post("/", data=data, headers={"X-Forwarded-For": forwarded_for}).status_code

        # two citizens' offices behind one proxy: each address has its own budget of refused logins
        assert [refused(proxied, "203.0.113.5") for _ in range(3)] == [401, 401, 429]
        assert refused(proxied, "203.0.113.6") == 401
        entries, _total = trail.entries(central_of(proxied).engine, action="login-refused")
        assert sorted({e["ip"] for e in entries}) == ["203.0.113.5", "203.0.113.6"]
        # HTTPS at the proxy: the session cookie is Secure, and the CSRF check sees the public host
        https = {
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "ppid.example.go.id",
        }
        client = proxied.test_client()
        page = client.get("/", headers=https).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert csrf
        data = {"username": "tono", "password": PASSWORD, "csrf_token": csrf.group(1)}
        answer = client.post("/", data=data, headers={**https, "Referer": "https://ppid.example.go.id/"})
        assert answer.status_code == 302
        assert "Secure" in answer.headers["Set-Cookie"]
        plain = app.test_client()
        data = {"username": "tini", "password": PASSWORD, "csrf_token": token(plain, "/")}
        answer = plain.post("/", data=data, headers=https)  # the headers ignored: plain HTTP, no Secure flag
        assert answer.status_code == 302 and "Secure" not in answer.headers["Set-Cookie"]
        # without proxy_count the header is anyone's to forge: ignored, every attempt is the proxy's address
        assert [refused(app, f"198.51.100.{n}", "tini") for n in range(3)] == [401, 401, 429]
    finally:
        central_of(proxied).engine.dispose()
