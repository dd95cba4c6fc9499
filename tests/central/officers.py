"""Helpers of the back office's tests: officers' accounts, logging in through the real login form, CSRF
tokens read from the pages, and citizens' submissions as a kiosk sends them."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from sync.central.backoffice import accounts

_TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
PASSWORD = "kata-sandi-uji-coba-panjang"
CONFIRM = {"konfirmasi": "ya"}  # what a confirmation page's button sends (deactivating, withdrawing)
# the answer step's form for information given in full (softcopy by e-mail, free of charge)
FULL_ANSWER = {"held": "ya", "decision": "penuh", "form_of": "softcopy", "medium": "email", "cost": "0",
               "text": "Ok"}  # fmt: skip


def add_officer(app: Flask, name: str, role: str, opd: str | None = None) -> str:
    engine = app.extensions["anjungan.central"].engine
    return accounts.add_user(engine, name, role, opd=opd, password=PASSWORD, now_ms=0)


def token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the page at ``path`` (the session's token: the same for every form of it)."""
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    return client.post("/", data={"username": name, "password": password, "csrf_token": token(client, "/")})


def logged_in(app: Flask, name: str, role: str, opd: str | None = None) -> FlaskClient:
    """A new client logged in as a new officer."""
    add_officer(app, name, role, opd)
    client = app.test_client()
    answer = login(client, name)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, page: str | None = None) -> Any:
    """A form POST with the session's CSRF token (read from ``page``, default the inbox)."""
    return client.post(path, data={**(data or {}), "csrf_token": token(client, page or "/kotak-masuk")})


def citizen(seq: int, kind: str, number: str, at_ms: int, **public: Any) -> dict[str, Any]:
    """A submission record as the kiosk sends it (protocol shape)."""
    personal = {"nama": "Siti Aminah", "nik": "3321014507800001", "telepon": "081234567890"}
    if kind == "request":
        body = {
            "rincian": "Salinan APBDes 2025",
            "tujuan": "Bahan diskusi warga",
            "cara_memperoleh": "melihat",
        }
    elif kind == "complaint":
        body = {"klasifikasi": "pengaduan", "kategori": "jalan-rusak", "judul": "Jalan berlubang di RT 03",
                "isi": "Lubang besar di depan balai desa membahayakan pengendara.", "lokasi": "Dusun Krajan",
                "anonim": False, "rahasia": False}  # fmt: skip
    else:
        body = {"nomor_permohonan": "", "alasan": ["c"], "uraian": "Permohonan saya tidak ditanggapi."}
    body.update(public)
    if body.get("anonim"):
        personal = None  # type: ignore[assignment]
    return {"seq": seq, "uuid": f"6f1c2d7e-0000-4000-8000-{seq:012d}", "number": number, "kind": kind,
            "at": at_ms, "offset": 0, "due_date": None, "public": body, "personal": personal}  # fmt: skip


def http_login(session: Any, base_url: str, app: Flask, name: str, role: str) -> None:
    """Log a requests.Session in to a served central as a new officer (through the real login form)."""
    add_officer(app, name, role)
    page = session.get(base_url + "/", timeout=30).text
    match = _TOKEN_RE.search(page)
    assert match
    data = {"username": name, "password": PASSWORD, "csrf_token": match.group(1) or match.group(2)}
    answer = session.post(base_url + "/", data=data, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
