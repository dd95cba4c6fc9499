"""Small helpers for the kiosk tests."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

GOOD_NIK = "3321010101900001"  # Demak region code, born 01-01-90


def office_today(zone: str = "Asia/Jakarta") -> date:
    """Today at the office of the test kiosk (``[kiosk] timezone``, WIB by default), whatever the machine's
    zone: the day of its registration numbers and due dates."""
    return datetime.now(ZoneInfo(zone)).date()


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf(client, path), **data}, **kwargs)


def request_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "nama": "Siti Aminah",
        "nik": GOOD_NIK,
        "alamat": "Desa Kalianyar RT 01/RW 02",
        "pekerjaan": "Petani",
        "telepon": "081234567890",
        "email": "",
        "rincian": "Salinan laporan realisasi anggaran kecamatan 2024",
        "tujuan": "Bahan musyawarah desa",
        "cara_memperoleh": "melihat",
    }
    return {**data, **overrides}


def complaint_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "klasifikasi": "pengaduan",
        "kategori": "jalan-rusak",
        "judul": "Jalan berlubang di depan SD Mrisen",
        "isi": "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.",
        "lokasi": "Jalan Desa Mrisen",
        "nama": "Budi Santoso",
        "telepon": "085712345678",
    }
    return {**data, **overrides}


def number_on(response: Any) -> str:
    location = response.headers["Location"]
    match = re.search(r"/tanda-terima/([A-Z0-9-]+)$", location)
    assert match, location
    return match.group(1)
