"""Role x route: each role gets exactly what it should from every back-office route, 403 otherwise.

The table is written out here, independently of sync/central/backoffice/roles.py, and a test checks that it
names every back-office route (a new route without a row fails)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sync.central.backoffice import accounts
from tests.central.conftest import Gateway, central_of
from tests.central.officers import citizen, logged_in, token
from tests.central.test_backoffice_cases import AT, OBJ, REQ

ROLES = ("admin", "ppid", "pelaksana", "atasan", "teknisi")
GW = "dmk-wonosalam"
# (method, path, {role: status}); a role not named gets 403
MATRIX: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/kotak-masuk", {"ppid": 200, "pelaksana": 200, "atasan": 200}),
    ("GET", "/armada", {"admin": 200, "teknisi": 200, "ppid": 200}),
    ("GET", "/armada/peta.svg", {"admin": 200, "teknisi": 200, "ppid": 200}),
    ("GET", f"/armada/anjungan/{GW}", {"admin": 200, "teknisi": 200, "ppid": 200}),
    ("POST", "/armada/tempat", {"admin": 400, "teknisi": 400}),
    ("POST", "/armada/node", {"admin": 400, "teknisi": 400}),
    ("GET", "/peringatan", {"admin": 200, "teknisi": 200, "ppid": 200}),
    ("POST", "/peringatan/999/terima", {"admin": 404, "teknisi": 404, "ppid": 404}),
    ("GET", "/kelengkapan", {"admin": 200, "teknisi": 200, "ppid": 200}),
    ("GET", "/sms", {"admin": 200, "ppid": 200}),
    ("POST", "/sms/999/ulang", {"admin": 404, "ppid": 404}),
    ("GET", f"/grafik/{GW}/dmk-wl-01/water_cm", {"admin": 404, "teknisi": 404, "ppid": 404}),
    ("GET", "/pengguna", {"admin": 200}),
    ("POST", "/pengguna", {"admin": 400}),
    ("GET", "/pengguna/ppid-x/nonaktif", {"admin": 200}),  # the confirmation page
    ("POST", "/pengguna/ppid-x/nonaktif", {"admin": 200}),  # unconfirmed: the confirmation page again
    ("GET", "/audit", {"admin": 200}),
    ("GET", "/audit.csv", {"admin": 200}),
    ("GET", "/pengaturan", {"admin": 200}),
    ("POST", "/pengaturan/opd", {"admin": 400}),
    ("POST", "/pengaturan/libur", {"admin": 400}),
    ("POST", "/pengaturan/libur/2026-12-31/hapus", {"admin": 404}),
    ("GET", "/templat", {"ppid": 200}),
    ("POST", "/templat", {"ppid": 400}),
    ("POST", "/templat/999/hapus", {"ppid": 404}),
    ("GET", "/publikasi", {"ppid": 200}),
    ("POST", "/publikasi/dip", {"ppid": 400}),
    ("POST", "/publikasi/dokumen", {"ppid": 400}),
    ("POST", "/publikasi/pengumuman", {"ppid": 400}),
    ("GET", "/publikasi/dip/nothing/tarik", {"ppid": 404}),
    ("POST", "/publikasi/dip/nothing/tarik", {"ppid": 404}),
    ("GET", "/publikasi/dip/nothing/pratinjau", {"ppid": 404}),
    ("GET", "/laporan", {"admin": 200, "ppid": 200, "atasan": 200}),
    ("GET", "/laporan.csv", {"admin": 200, "ppid": 200, "atasan": 200}),
    ("GET", "/laporan.pdf", {"admin": 200, "ppid": 200, "atasan": 200}),
    # a request assigned to no OPD: the pelaksana does not see it (404, its existence is not disclosed); the
    # atasan reads it because an objection names it
    ("GET", f"/berkas/{GW}/{REQ}", {"ppid": 200, "pelaksana": 404, "atasan": 200}),
    ("GET", f"/berkas/{GW}/{OBJ}", {"ppid": 200, "pelaksana": 404, "atasan": 200}),
    # the atasan reads the request an objection names, but not its filer's identity (another citizen's)
    ("POST", f"/berkas/{GW}/{REQ}/identitas", {"ppid": 200, "pelaksana": 404, "atasan": 403}),
    ("POST", f"/berkas/{GW}/{OBJ}/identitas", {"ppid": 200, "pelaksana": 404, "atasan": 200}),
    ("POST", f"/berkas/{GW}/{REQ}/verifikasi", {"ppid": 302, "pelaksana": 404, "atasan": 403}),
    ("POST", f"/berkas/{GW}/{OBJ}/putus", {"ppid": 403, "pelaksana": 404, "atasan": 400}),
    ("POST", f"/berkas/{GW}/{REQ}/lampiran", {"ppid": 400, "pelaksana": 400}),
    # withholding from open data: the PPID only, and only a complaint (a request is none: 404)
    ("POST", f"/berkas/{GW}/{REQ}/data-terbuka", {"ppid": 404}),
    ("GET", f"/berkas/{GW}/{REQ}/lampiran/1", {"ppid": 404, "pelaksana": 404, "atasan": 404}),
    ("POST", "/keluar", {role: 302 for role in ROLES}),
]
PUBLIC = {"/", "/bahasa/<code>", "/bo-static/<path:filename>"}


def test_the_matrix_names_every_back_office_route(app: Flask) -> None:
    named = {path for _method, path, _expected in MATRIX}
    shapes = {
        "/berkas/<gateway_id>/<number>": f"/berkas/{GW}/{REQ}",
        "/berkas/<gateway_id>/<number>/identitas": f"/berkas/{GW}/{REQ}/identitas",
        "/berkas/<gateway_id>/<number>/lampiran": f"/berkas/{GW}/{REQ}/lampiran",
        "/berkas/<gateway_id>/<number>/data-terbuka": f"/berkas/{GW}/{REQ}/data-terbuka",
        "/berkas/<gateway_id>/<number>/lampiran/<int:attachment_id>": f"/berkas/{GW}/{REQ}/lampiran/1",
        "/berkas/<gateway_id>/<number>/<step>": f"/berkas/{GW}/{REQ}/verifikasi",
        "/pengguna/<username>/<action>": "/pengguna/ppid-x/nonaktif",
        "/peringatan/<int:alert_id>/terima": "/peringatan/999/terima",
        "/sms/<int:message_id>/ulang": "/sms/999/ulang",
        "/grafik/<gateway_id>/<node>/<name>": f"/grafik/{GW}/dmk-wl-01/water_cm",
        "/armada/anjungan/<gateway_id>": f"/armada/anjungan/{GW}",
        "/pengaturan/libur/<day>/hapus": "/pengaturan/libur/2026-12-31/hapus",
        "/templat/<int:template_id>/hapus": "/templat/999/hapus",
        "/publikasi/<kind>/<item_id>/tarik": "/publikasi/dip/nothing/tarik",
        "/publikasi/<kind>/<item_id>/pratinjau": "/publikasi/dip/nothing/pratinjau",
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("backoffice_") and rule.rule not in PUBLIC:
            assert shapes.get(rule.rule, rule.rule) in named, f"{rule.rule} has no row in the matrix"


@pytest.fixture
def officers(app: Flask, gateway: Gateway) -> dict[str, FlaskClient]:
    gateway.send("submissions", [citizen(1, "request", REQ, AT), citizen(2, "objection", OBJ, AT,
                                                                        nomor_permohonan=REQ)])  # fmt: skip
    accounts.add_user(central_of(app).engine, "ppid-x", "ppid", opd=None, password=None, now_ms=0)
    return {
        role: logged_in(app, f"o-{role}", role, "dinkes" if role == "pelaksana" else None) for role in ROLES
    }


def test_each_role_gets_exactly_its_routes(app: Flask, officers: dict[str, FlaskClient]) -> None:
    officers["ppid"].get("/kotak-masuk")  # cases are made from the submissions
    failures = []
    for method, path, expected in MATRIX:
        for role in ROLES:
            if path == "/keluar":
                continue
            client = officers[role]
            if method == "GET":
                answer = client.get(path)
            else:
                answer = client.post(path, data={"csrf_token": token(client, "/pengguna")})
            answer.close()  # a streamed body (CSV) is finished before the next request
            want = expected.get(role, 403)
            if answer.status_code != want:
                failures.append(f"{role} {method} {path}: {answer.status_code}, expected {want}")
    for role in ROLES:  # logging out works for every role, last
        client = officers[role]
        if client.post("/keluar", data={"csrf_token": token(client, "/pengguna")}).status_code != 302:
            failures.append(f"{role} POST /keluar")
    assert not failures, "\n".join(failures)
