"""Deadlines of the back office's cases: a deferred complaint keeps its deadline and is resumed; days off
added or removed move the open cases' deadlines (and the date the kiosk shows)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.central.conftest import Clock, Gateway
from tests.central.officers import citizen, logged_in, post
from tests.central.test_backoffice_cases import (
    AT,
    CPL,
    DAY,
    REQ,
    add_opd,
    audit_rows,
    case_page,
    kiosk_view,
    step,
)


@pytest.fixture
def filed(app: Flask, gateway: Gateway) -> Gateway:
    """A request and a complaint received on Monday 2026-11-23, as the kiosk sends them."""
    records = [citizen(1, "request", REQ, AT), citizen(2, "complaint", CPL, AT)]
    assert gateway.send("submissions", records).json["acked"] == 2
    return gateway


@pytest.fixture
def ppid(app: Flask) -> FlaskClient:
    return logged_in(app, "ppid1", "ppid")


def test_a_deferred_complaint_keeps_its_deadline_and_is_resumed(
    app: Flask, filed: Gateway, ppid: FlaskClient, clock: Clock
) -> None:
    ppid.get("/kotak-masuk")  # cases are made on the first look
    assert step(ppid, CPL, "verifikasi").status_code == 302
    assert step(ppid, CPL, "tunda", text="Menunggu foto lokasi").status_code == 302
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-30"
    app.config["BACKOFFICE_IDLE_SECONDS"] = 60 * DAY
    clock.now += 3 * DAY  # Thursday 2026-11-26: due within 2 working days
    soon = ppid.get("/kotak-masuk?due=segera").get_data(as_text=True)
    assert CPL in soon and REQ not in soon
    clock.now += 5 * DAY  # Tuesday 2026-12-01 WIB: past its deadline
    late = ppid.get("/kotak-masuk?due=terlambat").get_data(as_text=True)
    assert CPL in late and "2026-11-30" in late
    page = case_page(ppid, CPL)
    assert 'id="step-lanjutkan"' in page and "· Diverifikasi</li>" in page.split("Riwayat", 1)[1]
    assert step(ppid, CPL, "lanjutkan").status_code == 302
    seen = kiosk_view(filed, CPL)
    assert seen["status"] == "in-progress" and seen["due_date"] == "2026-11-30" and not seen["answer"]
    assert step(ppid, CPL, "lanjutkan").status_code == 409  # not deferred any more
    assert [r["action"] for r in audit_rows(app)][-2:] == ["defer", "resume"]


def test_a_complaint_deferred_before_verification_resumes_verified(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    add_opd(app, "dispu")
    ppid.get("/kotak-masuk")
    assert step(ppid, CPL, "tunda", text="Menunggu data").status_code == 302
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-26"  # the verification stage's deadline
    assert step(ppid, CPL, "lanjutkan").status_code == 302
    assert "Diverifikasi" in case_page(ppid, CPL)
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-30"  # follow-up: 5 working days from Monday


def test_a_local_day_off_moves_the_open_deadlines_and_the_kiosks_date(
    app: Flask, filed: Gateway, ppid: FlaskClient
) -> None:
    ppid.get("/kotak-masuk")
    admin = logged_in(app, "admin1", "admin")
    added = post(
        admin, "/pengaturan/libur", {"day": "2026-11-25", "name": "Hari jadi kabupaten"}, "/pengaturan"
    )
    assert added.status_code == 302
    assert "Tenggat 2 berkas terbuka dihitung ulang." in admin.get("/pengaturan").get_data(as_text=True)
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-27"  # verification: 3 working days, one of them off
    assert kiosk_view(filed, REQ)["due_date"] == "2026-12-08"
    inbox = ppid.get("/kotak-masuk").get_data(as_text=True)
    assert "2026-12-08" in inbox and "2026-12-07" not in inbox
    moved = [r for r in audit_rows(app) if r["action"] == "deadline-recompute"]
    assert {r["target"] for r in moved} == {f"dmk-wonosalam/{REQ}", f"dmk-wonosalam/{CPL}"}
    assert post(admin, "/pengaturan/libur/2026-11-25/hapus", page="/pengaturan").status_code == 302
    assert kiosk_view(filed, CPL)["due_date"] == "2026-11-26"
    assert kiosk_view(filed, REQ)["due_date"] == "2026-12-07"
