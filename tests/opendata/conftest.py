"""Fixtures of the open-data tests: the central's fixtures (app, gateway, clock on SQLite and PostgreSQL),
complaints as a kiosk sends them, and the central served on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from gateway import regno
from sync.central.backoffice import accounts
from sync.central.cli import central_group
from tests.central.conftest import T0, app, client, clock, db_url, gateway  # noqa: F401
from tests.fixtures.wsgi import LiveServer

AT_MS = int(T0 * 1000)


def complaint(seq: int, *, rahasia: bool = False, anonim: bool = False, kategori: str = "jalan-rusak",
              at_ms: int = AT_MS, kind: str = "complaint") -> dict[str, Any]:  # fmt: skip
    """A complaint record as the kiosk's pengaduan form makes it (kiosk/forms.py PengaduanForm)."""
    personal = (
        None
        if anonim
        else {"nama": f"Warga Nomor{seq}", "nik": f"33210101010{seq:05d}", "telepon": f"0812{seq:08d}"}
    )
    return {
        "seq": seq,
        "uuid": f"0c1d2e3f-0000-4000-8000-{seq:012d}",
        "number": regno.make("dmk-wonosalam", date(2026, 11, 22), seq),
        "kind": kind,
        "at": at_ms,
        "offset": 0,
        "due_date": "2026-12-08",
        "public": {
            "klasifikasi": "pengaduan",
            "kategori": kategori,
            "judul": f"Laporan {seq}",
            "isi": f"Isi laporan nomor {seq} di RT 02.",
            "tanggal_kejadian": "2026-11-20",
            "lokasi": "Jalan Raya Wonosalam km 3",
            "anonim": anonim,
            "rahasia": rahasia,
        },
        "personal": personal,
    }


@pytest.fixture
def live(app: Flask) -> Iterator[str]:  # noqa: F811
    """The app served on a free loopback port (tests/fixtures/wsgi.py); yields its base URL."""
    server = LiveServer(app)
    yield server.url
    server.stop()


OFFICERS = (("teknisi-ani", "teknisi"), ("ppid-budi", "ppid"), ("ppid-ani", "ppid"), ("admin-ani", "admin"))
OPDS = {"bpbd": "BPBD Kabupaten Demak", "dispu": "Dinas Pekerjaan Umum"}


@pytest.fixture
def run_cli(app: Flask, db_url: str, tmp_path: Path):  # noqa: F811
    """Invoke ``anjungan central`` on the test's database, where the officers of :data:`OFFICERS` and the OPDs
    of :data:`OPDS` are known; answers the result (exit code not checked)."""
    engine = app.extensions["anjungan.central"].engine
    for name, role in OFFICERS:
        accounts.add_user(engine, name, role, opd=None, password=None, now_ms=0)
    for code, name in OPDS.items():
        accounts.save_opd(engine, code, name)
    runner = CliRunner()
    env = {"ANJUNGAN_CENTRAL_DB": db_url, "ANJUNGAN_CENTRAL_SERVER_KEY_FILE": str(tmp_path / "central.key")}

    def invoke(*args: str) -> Any:
        return runner.invoke(central_group, ["--files-dir", str(tmp_path / "files"), *args], env=env)

    return invoke
