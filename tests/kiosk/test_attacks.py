"""The kiosk tried as an attacker would: each input of the attack table, against the real app and server.

Bounded loops on loopback only. Each test names the attack; the expected value is the right behaviour
(docs/kiosk.md, "Defences", keeps the table).
"""

from __future__ import annotations

import http.client
import io
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.sample_content import seed
from gateway.store import Store
from kiosk.pagecache import PageCache
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.helpers import GOOD_NIK, complaint_data, csrf, number_on, post, request_data


def _lang_of(page: str) -> str:
    match = re.search(r'<html lang="([a-z]+)">', page)
    assert match, page[:200]
    return match.group(1)


def _raw(
    server: LiveServer, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], str]:
    """One request with exactly these headers (no client library rewriting them)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
    finally:
        conn.close()


# --- 5. the page cache cannot be poisoned ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    ["x=y z; lang=en", "lang=en; lang=id", 'lang="en"; x="a,b"', "lang=en;;; =; x",
     "x=\xe9", "lang=en; x=\xe9", "lang=en\xe9; lang=en", "x=\xc3; lang=en; y=\xff\xfe"],
    ids=["unparsable-for-SimpleCookie", "lang-twice", "quoted-and-junk", "empty-parts",
         "not-utf-8", "not-utf-8-after-lang", "not-utf-8-in-lang", "broken-utf-8-around-lang"],
)  # fmt: skip
def test_page_cache_cannot_be_poisoned_by_a_cookie_header(
    make_app: Callable[..., Flask],
    kiosk_store: Store,
    cfg,
    cookie: str,  # type: ignore[no-untyped-def]
) -> None:
    seed(kiosk_store, cfg)
    app = make_app(KIOSK_PAGE_CACHE_SECONDS=60.0)
    server = LiveServer(app)
    try:
        status, _headers, attacker_page = _raw(server, "GET", "/", {"Host": "kiosk", "Cookie": cookie})
        assert status == 200
        # the next citizens, with no cookie or having chosen Indonesian: the Indonesian home page, cached or not
        for headers in ({"Host": "kiosk"}, {"Host": "kiosk", "Cookie": "lang=id"}) * 2:
            status, _headers, page = _raw(server, "GET", "/", headers)
            assert status == 200 and _lang_of(page) == "id", (headers, _lang_of(attacker_page))
        # and the attacker's own page was rendered in the language its cookie header means to the app
        status, _headers, again = _raw(server, "GET", "/", {"Host": "kiosk", "Cookie": cookie})
        assert _lang_of(again) == _lang_of(attacker_page)
    finally:
        server.stop()


def test_an_english_citizen_still_gets_the_cached_english_page(make_app, kiosk_store, cfg) -> None:  # type: ignore[no-untyped-def]
    seed(kiosk_store, cfg)
    client = make_app(KIOSK_PAGE_CACHE_SECONDS=60.0).test_client(use_cookies=False)
    english = client.get("/", headers={"Cookie": "lang=en"})
    assert _lang_of(english.get_data(as_text=True)) == "en"
    assert _lang_of(client.get("/").get_data(as_text=True)) == "id"
    assert client.get("/", headers={"Cookie": "lang=en"}).data == english.data


@pytest.mark.parametrize(
    ("cookie", "lang"),
    [("x=\xe9", "id"), ("lang=en; x=\xe9", "en"), ("x=\xe9; lang=en", "en"), ("lang=\xe9n", "id")],
)
def test_a_cookie_that_is_not_utf_8_gets_the_kiosk_page(  # type: ignore[no-untyped-def]
    make_app, kiosk_store, cfg, cookie: str, lang: str
) -> None:
    """``curl -H $'Cookie: x=\\xe9' http://kiosk/`` was a plain-text 500 from outside Flask (the page cache's
    key raised UnicodeDecodeError): now the home page, in the language the app reads from that header."""
    seed(kiosk_store, cfg)
    server = LiveServer(make_app(KIOSK_PAGE_CACHE_SECONDS=60.0))
    try:
        for _ in range(2):  # rendered, then from the cache
            status, headers, page = _raw(server, "GET", "/", {"Host": "kiosk", "Cookie": cookie})
            assert status == 200 and headers["Content-Type"].startswith("text/html"), page[:200]
            assert _lang_of(page) == lang and 'class="tiles' in page
    finally:
        server.stop()


def test_the_page_cache_never_turns_its_own_failure_into_a_server_page(app: Flask) -> None:
    def broken(_environ: dict[str, object]) -> str:
        raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")

    cache = app.wsgi_app
    assert isinstance(cache, PageCache)
    app.wsgi_app = PageCache(cache.app, lambda: 60.0, broken)  # type: ignore[method-assign]
    response = app.test_client().get("/")
    assert response.status_code == 200 and _lang_of(response.get_data(as_text=True)) == "id"


# --- 6. no 500 for bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/bahasa/en?kembali=/%0d%0aSet-Cookie:x=1",
        "/bahasa/en?kembali=/%0aLocation:%20http://evil.example/",
        "/bahasa/en?kembali=/%09/evil.example",
        "/bahasa/en?kembali=/%5C%5Cevil.example",
        "/bahasa/en?kembali=%2F%2Fevil.example",
        "/bahasa/id?kembali=/informasi%00",
    ],
)
def test_language_switch_with_a_header_splitting_target_redirects_home(app: Flask, target: str) -> None:
    server = LiveServer(app)
    try:
        status, headers, _body = _raw(server, "GET", target, {"Host": "kiosk"})
    finally:
        server.stop()
    assert status == 302
    assert headers["Location"] in ("/", "http://kiosk/")
    assert not any(name.lower() == "set-cookie" and "x=1" in value for name, value in headers.items())


def test_language_switch_keeps_a_good_target(client: FlaskClient) -> None:
    response = client.get("/bahasa/en?kembali=/informasi/berkala")
    assert response.status_code == 302 and response.headers["Location"] == "/informasi/berkala"


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "----anjungan-test-boundary"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("path", "field", "data"),
    [
        ("/pengaduan", "judul", complaint_data()),
        ("/pengaduan", "nik", complaint_data(nik=GOOD_NIK)),
        ("/permohonan", "nik", request_data()),
        ("/permohonan", "rincian", request_data()),
        ("/status", "nomor", {"nomor": "x"}),
    ],
)
def test_a_file_in_a_text_field_is_a_400_page(
    client: FlaskClient, kiosk_store: Store, path: str, field: str, data: dict
) -> None:
    token = csrf(client, path)
    fields = {k: str(v) for k, v in data.items() if k != field}
    body, content_type = _multipart(
        {"csrf_token": token, **fields}, {field: ("file.txt", b"3321010101900001\n")}
    )
    response = client.post(path, data=body, content_type=content_type)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Isian tidak dapat diproses" in page and 'data-finish="/selesai"' in page and 'href="/"' in page
    assert kiosk_store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_a_file_as_the_operator_password_is_a_400_page(make_app: Callable[..., Flask]) -> None:
    from werkzeug.security import generate_password_hash

    client = make_app(KIOSK_PASSWORD_HASH=generate_password_hash("rahasia-123")).test_client()
    token = csrf(client, "/operator/masuk")
    body, content_type = _multipart({"csrf_token": token}, {"password": ("file.txt", b"rahasia-123")})
    response = client.post("/operator/masuk", data=body, content_type=content_type)
    assert response.status_code == 400 and "Isian tidak dapat diproses" in response.get_data(as_text=True)
    assert client.get("/operator/").status_code == 302  # not logged in


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"judul": 5, "isi": ["a", "b"], "nama": {"x": 1}}'),
        ("text/plain", b"judul=x"),
        ("application/xml", b"<judul/>"),
    ],
)
def test_a_body_that_is_not_a_form_is_a_400_page(client: FlaskClient, content_type: str, body: bytes) -> None:
    token = csrf(client, "/pengaduan")
    response = client.post("/pengaduan", data=body, content_type=content_type, headers={"X-CSRFToken": token})
    assert response.status_code == 400


def test_multipart_without_files_still_works(client: FlaskClient, kiosk_store: Store) -> None:
    token = csrf(client, "/pengaduan")
    body, content_type = _multipart({"csrf_token": token, **complaint_data()}, {})
    response = client.post("/pengaduan", data=body, content_type=content_type)
    assert response.status_code == 302
    assert kiosk_store.submission(number_on(response)) is not None


def _english(client: FlaskClient) -> None:
    client.get("/bahasa/en")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_error_page_is_a_kiosk_page_in_the_citizens_language(  # type: ignore[no-untyped-def]
    make_app, kiosk_store: Store, cfg, lang: str
) -> None:
    seed(kiosk_store, cfg)
    app = make_app(KIOSK_LIMIT_STATUS="1 per minute", MAX_CONTENT_LENGTH=4096, MAX_FORM_MEMORY_SIZE=4096)
    client = app.test_client()
    if lang == "en":
        _english(client)
    pages: dict[int, tuple[int, str]] = {}

    def keep(response) -> None:  # type: ignore[no-untyped-def]
        pages[response.status_code] = (response.status_code, response.get_data(as_text=True))

    keep(client.post("/pengaduan", data={"judul": "no token"}))  # 400
    keep(client.get("/tidak-ada"))  # 404
    keep(client.delete("/"))  # 405
    keep(post(client, "/pengaduan", complaint_data(isi="x" * 8000)))  # 413
    client.get("/status/ABC")
    keep(client.get("/status/ABC"))  # 429
    kiosk_store.conn.execute("DROP TABLE submissions")  # a store that lost a table: saving fails (503)
    keep(post(client, "/pengaduan", complaint_data()))
    kiosk_store.conn.execute("DROP TABLE content")  # and a page that cannot be read at all (500)
    keep(client.get("/informasi"))
    assert sorted(pages) == [400, 404, 405, 413, 429, 500, 503]
    for code, (status, page) in pages.items():
        assert status == code
        assert _lang_of(page) == lang, code
        assert 'data-idle="' in page and 'data-finish="/selesai"' in page, code  # the idle reset
        assert re.search(r'class="btn (btn-primary )?btn-big" href="/"', page), code  # the way home
        assert "/static/kiosk.css" in page
    assert 'id="retry"' in pages[503][1]  # a failed save offers to go back to the kept form first
    assert ("Sorry, something went wrong" in pages[500][1]) == (lang == "en")
    assert ("Maaf, terjadi gangguan" in pages[500][1]) == (lang == "id")


# --- defences that already held: kept under test ---------------------------------------------------------


def test_xss_in_every_text_field_is_escaped(client: FlaskClient, kiosk_store: Store) -> None:
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'>"
    response = post(client, "/pengaduan", complaint_data(judul=payload, isi=payload, lokasi=payload))
    number = number_on(response)
    kiosk_store.apply_changes([{"kind": "submission", "id": number, "op": "upsert",
                                "data": {"status": "answered", "answer": payload}}], "c1")  # fmt: skip
    page = client.get(f"/status/{number}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    assert "script-src 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_csrf_is_required_on_every_form(client: FlaskClient) -> None:
    for path, data in (("/permohonan", request_data()), ("/pengaduan", complaint_data()),
                       ("/status", {"nomor": "x"})):  # fmt: skip
        assert client.post(path, data=data).status_code == 400
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400


@pytest.mark.parametrize(
    "number", ["' OR 1=1 --", "TEST-KIOSK-250203-00012' UNION SELECT personal FROM submissions --"]
)
def test_sql_injection_in_a_status_number(client: FlaskClient, number: str) -> None:
    post(client, "/permohonan", request_data())
    response = client.get("/status/" + number)
    assert response.status_code == 400 and GOOD_NIK not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "/dokumen/..%2f..%2fanjungan.db",
        "/static/..%2f..%2fanjungan.toml",
        "/dokumen/" + "a" * 64 + "/halaman/1.png",
        "/kondisi/grafik/..%2f..%2f/x/24j.svg",
        "/informasi/..%2f..%2f",
    ],
)
def test_path_traversal_is_a_404(client: FlaskClient, target: str) -> None:
    response = client.get(target)
    assert response.status_code == 404
    assert b"SQLite format" not in response.data and b"secret" not in response.data


def test_open_redirects_go_home(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                   "http:/evil.example"):  # fmt: skip
        assert client.get("/bahasa/en", query_string={"kembali": target}).headers["Location"] == "/"
    sha = "0" * 64
    page = client.get(f"/dokumen/{sha}", query_string={"kembali": "https://evil.example/"})
    assert "evil.example" not in page.get_data(as_text=True)


def test_oversized_input_is_a_413_page(client: FlaskClient) -> None:
    response = post(client, "/pengaduan", complaint_data(isi="x" * 200_000))
    assert response.status_code == 413 and "Isian terlalu panjang" in response.get_data(as_text=True)


def test_guessing_receipt_numbers_shows_no_answer(
    client: FlaskClient, app: Flask, kiosk_store: Store
) -> None:
    from gateway import regno

    number = number_on(post(client, "/permohonan", request_data()))
    kiosk_store.apply_changes([{"kind": "submission", "id": number, "op": "upsert",
                                "data": {"status": "answered", "answer": "Bu Siti, 081234567890"}}], "c1")  # fmt: skip
    day = regno.parse(number).day
    guesses = [regno.make("test-kiosk", day, i) for i in range(1, 26)]  # anyone can compute a day's numbers
    assert number in guesses
    attacker = app.test_client()
    answered = [g for g in guesses if "081234567890" in attacker.get(f"/status/{g}").get_data(as_text=True)]
    assert answered == []


def test_a_copied_operator_cookie_dies_with_logout(make_app: Callable[..., Flask]) -> None:
    from werkzeug.security import generate_password_hash

    app = make_app(KIOSK_PASSWORD_HASH=generate_password_hash("rahasia-123"))
    client = app.test_client()
    assert post(client, "/operator/masuk", {"password": "rahasia-123"}).status_code == 302
    cookie = client.get_cookie("anjungan")
    assert cookie is not None
    client.post("/operator/keluar", data={"csrf_token": csrf(client, "/operator/")})
    thief = app.test_client()
    thief.set_cookie("anjungan", cookie.value)
    assert thief.get("/operator/").status_code == 302
