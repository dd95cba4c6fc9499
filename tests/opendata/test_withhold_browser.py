"""Withholding a complaint from open data on its case page, in a real Chromium as the PPID: the button asks for
a reason, the complaint leaves Open311 at once, the action is on the audit page (Jejak audit) with the open-data
actions; publishing it again brings it back. Without the role, or without the CSRF token, nothing happens."""

from __future__ import annotations

import re
from typing import Any

import requests
from flask import Flask

from tests.central.conftest import Gateway
from tests.central.officers import PASSWORD, add_officer, logged_in, post, token
from tests.fixtures.wsgi import LiveServer
from tests.opendata.conftest import complaint


def _login(page: Any, url: str, name: str) -> None:
    page.goto(url + "/")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/(kotak-masuk|pengguna).*"))


def _published(url: str) -> list[str]:
    answer = requests.get(url + "/open311/v2/requests.json", timeout=30)
    assert answer.status_code == 200
    return [r["service_request_id"] for r in answer.json()]


def test_the_ppid_withholds_a_complaint_with_the_button(app: Flask, gateway: Gateway, chromium: Any) -> None:
    record = complaint(1)
    assert gateway.send("submissions", [record]).status_code == 200
    add_officer(app, "ppid-budi", "ppid")
    add_officer(app, "admin-ani", "admin")
    server = LiveServer(app)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    try:
        assert record["uuid"] in _published(server.url)
        page = context.new_page()
        _login(page, server.url, "ppid-budi")
        page.goto(f"{server.url}/berkas/{gateway.id}/{record['number']}")
        page.fill("#open-data-form textarea[name=reason]", "Menyebut nama warga")
        page.click("#open-data-form button[type=submit]")
        page.wait_for_selector("#withheld")
        assert "ppid-budi" in (page.text_content("#withheld") or "")
        assert record["uuid"] not in _published(server.url)
        page.fill("#open-data-form textarea[name=reason]", "Nama sudah dihapus")
        page.click("#open-data-form button[type=submit]")
        page.wait_for_selector("#open-data-form button:has-text('Tahan dari data terbuka')")
        assert record["uuid"] in _published(server.url)
        admin = context.new_page()
        context.clear_cookies()
        _login(admin, server.url, "admin-ani")
        admin.goto(server.url + "/audit")
        trail = admin.text_content("table.grid") or ""
        assert "Pengaduan ditahan dari data terbuka" in trail and "Pengaduan ditampilkan lagi" in trail
        assert "Menyebut nama warga" in trail and record["number"] in trail and record["uuid"] not in trail
        assert admin.locator("tr.audit-opendata").count() == 2
    finally:
        context.close()
        server.stop()


def test_withholding_needs_the_role_and_the_csrf_token(app: Flask, gateway: Gateway) -> None:
    record = complaint(2)
    assert gateway.send("submissions", [record]).status_code == 200
    path = f"/berkas/{gateway.id}/{record['number']}"
    pelaksana = logged_in(app, "pu-ani", "pelaksana", "dispu")
    assert post(pelaksana, path + "/data-terbuka", {"tindakan": "tahan", "reason": "x"}).status_code == 403
    ppid = logged_in(app, "ppid-sari", "ppid")
    unsigned = ppid.post(path + "/data-terbuka", data={"tindakan": "tahan", "reason": "x"})
    assert unsigned.status_code == 400
    assert "Ditahan dari data terbuka" not in ppid.get(path).get_data(as_text=True)
    no_reason = ppid.post(path + "/data-terbuka", data={"tindakan": "tahan", "reason": "",
                                                         "csrf_token": token(ppid, path)})  # fmt: skip
    assert no_reason.status_code == 400
    done = ppid.post(path + "/data-terbuka", data={"tindakan": "tahan", "reason": "Menyebut nama",
                                                   "csrf_token": token(ppid, path)})  # fmt: skip
    assert done.status_code == 302
    case_page = ppid.get(path).get_data(as_text=True)
    assert "Ditahan dari data terbuka oleh ppid-sari" in case_page
    when = re.search(r"Ditahan dari data terbuka oleh ppid-sari pada ([^:]+:[^:]+:\S+ \S+):", case_page)
    assert when and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB", when.group(1))  # local, not ISO UTC
    admin = logged_in(app, "admin-dewi", "admin")
    trail = admin.get("/audit?action=open311-hide").get_data(as_text=True)
    row = re.search(r'<td data-action="open311-hide">([^<]*)</td><td>([^<]*)</td>', trail)
    assert row and row.groups() == ("Pengaduan ditahan dari data terbuka", record["number"])  # not its uuid
    assert record["uuid"] not in trail and re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WIB<", trail)
