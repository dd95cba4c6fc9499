"""Reading pages: home, DIP, documents, announcements, languages, security headers."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from gateway.sample_content import SAMPLE_CHANGES


def test_home_in_indonesian_by_default(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="id">' in page
    assert "Kecamatan Wonosalam" in page
    for tile in ("Informasi publik", "Permohonan informasi", "Pengaduan", "Cek status", "Kondisi lingkungan"):
        assert tile in page
    assert "Pemadaman listrik terencana" in page  # the urgent announcement, as a banner


def test_one_tap_to_english_and_back(client: FlaskClient) -> None:
    response = client.get("/bahasa/en?kembali=/informasi")
    assert response.status_code == 302 and response.headers["Location"] == "/informasi"
    page = client.get("/informasi").get_data(as_text=True)
    assert '<html lang="en">' in page and "Public information" in page and "Periodic information" in page
    client.get("/bahasa/id")
    assert "Informasi berkala" in client.get("/informasi").get_data(as_text=True)


def test_language_switch_never_redirects_elsewhere(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        response = client.get("/bahasa/en", query_string={"kembali": target})
        assert response.headers["Location"] == "/"


def test_dip_by_category_with_columns(client: FlaskClient) -> None:
    page = client.get("/informasi/berkala").get_data(as_text=True)
    assert "Profil Kecamatan Wonosalam" in page
    for column in ("Pejabat/unit yang menguasai", "Penanggung jawab", "Waktu dan tempat pembuatan",
                   "Bentuk tersedia", "Jangka waktu penyimpanan"):  # fmt: skip
        assert column in page
    assert "Baca dokumen" in page
    assert client.get("/informasi/rahasia-negara").status_code == 404


def test_exempt_information_is_listed_never_its_content(client: FlaskClient) -> None:
    page = client.get("/informasi/dikecualikan").get_data(as_text=True)
    exempt = [
        c["data"] for c in SAMPLE_CHANGES if c["kind"] == "dip" and c["data"]["category"] == "dikecualikan"
    ]
    assert len(exempt) >= 3
    for entry in exempt:
        assert entry["title"] in page
        assert entry["summary"] not in page
        assert entry["reason"] in page
    assert "dikecualikan dan tidak dapat diberikan" in page
    assert "/dokumen/" not in page


def test_every_category_has_sample_entries() -> None:
    categories = [c["data"]["category"] for c in SAMPLE_CHANGES if c["kind"] == "dip"]
    assert 15 <= len(categories) <= 25
    assert set(categories) == {"berkala", "serta-merta", "setiap-saat", "dikecualikan"}


def test_document_pages_render_from_local_storage(client: FlaskClient, cfg) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/informasi/berkala").get_data(as_text=True)
    sha = re.search(r"/dokumen/([0-9a-f]{64})", page).group(1)  # type: ignore[union-attr]
    viewer = client.get(f"/dokumen/{sha}").get_data(as_text=True)
    assert "Halaman 1 dari 2" in viewer
    image = client.get(f"/dokumen/{sha}/halaman/1.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert (cfg.data_dir / "pages" / sha / "1.png").is_file()  # cached for the next citizen
    assert "Halaman 2 dari 2" in client.get(f"/dokumen/{sha}?halaman=9").get_data(as_text=True)
    assert client.get(f"/dokumen/{sha}/halaman/3.png").status_code == 404
    assert client.get("/dokumen/" + "0" * 64).status_code == 404
    assert client.get("/dokumen/..%2f..%2fetc%2fpasswd").status_code == 404


def test_document_not_downloaded_yet(client: FlaskClient, cfg) -> None:  # type: ignore[no-untyped-def]
    sha = next(c["id"] for c in SAMPLE_CHANGES if c["kind"] == "document")
    (cfg.data_dir / "files" / sha).unlink()
    page = client.get(f"/dokumen/{sha}").get_data(as_text=True)
    assert "belum tersedia" in page


def test_announcements(client: FlaskClient) -> None:
    page = client.get("/pengumuman").get_data(as_text=True)
    assert "Perekaman KTP-el keliling" in page and "Penting" in page


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script anywhere
    assert client.get("/permohonan").headers["Cache-Control"] == "no-store"


def test_no_outside_urls_in_pages_or_assets(client: FlaskClient) -> None:
    texts = [
        client.get(p).get_data(as_text=True) for p in ("/", "/informasi/berkala", "/permohonan", "/kondisi")
    ]
    for name in ("kiosk.css", "kiosk.js", "keyboard.js"):
        with client.get(f"/static/{name}") as response:
            texts.append(response.get_data(as_text=True))
    for text in texts:
        assert not re.search(r"(src|href)=\"(https?:)?//", text)
        assert "@import" not in text and "fonts.googleapis" not in text


def test_page_cache_serves_public_pages(make_app, kiosk_store, cfg) -> None:  # type: ignore[no-untyped-def]
    from gateway.sample_content import seed

    seed(kiosk_store, cfg)
    client = make_app(KIOSK_PAGE_CACHE_SECONDS=60.0).test_client()
    first = client.get("/informasi/berkala")
    kiosk_store.apply_changes([{"kind": "dip", "id": "dip-001", "op": "delete"}], "x")
    assert client.get("/informasi/berkala").data == first.data  # cached
    assert "X-Kiosk-Cache" not in first.headers
    client.set_cookie("lang", "en")
    assert "Periodic information" in client.get("/informasi/berkala").get_data(as_text=True)  # per language


def test_times_are_in_the_kiosks_zone_whatever_the_machines(make_app) -> None:  # type: ignore[no-untyped-def]
    """The header clock and the times on pages follow the configured zone (here WIT, UTC+9), not the machine's."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    client = make_app(BABEL_DEFAULT_TIMEZONE="Asia/Jayapura").test_client()
    page = client.get("/").get_data(as_text=True)
    clock = re.search(
        r'<time class="clock" id="clock" data-utc-offset-min="(-?\d+)">(\d\d):(\d\d)</time>', page
    )
    assert clock, "no clock in the header"
    assert clock.group(1) == "540"
    before = datetime.now(ZoneInfo("Asia/Jayapura"))
    assert int(clock.group(2)) in (before.hour, (before.hour - 1) % 24)
