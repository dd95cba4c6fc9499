"""The kiosk never holds a read snapshot of the store beyond a request: after every kind of page has been served
(the kiosk's connections still open), a TRUNCATE checkpoint from another connection completes without waiting.
A snapshot left open would keep purged personal data in the store's ``-wal`` file (docs/sync.md)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from werkzeug.security import generate_password_hash

from gateway.config import Config
from gateway.sample_content import seed
from gateway.store import Store, db
from tests.kiosk.helpers import number_on, post, request_data

PASSWORD = "kunci-operator-2025"


def test_no_page_leaves_a_read_snapshot_open(
    make_app: Callable[..., Flask], kiosk_store: Store, feed: Callable[..., None], cfg: Config
) -> None:
    seed(kiosk_store, cfg)
    feed("dmk-wl-01", {"water_cm": 131.5, "temp_c": 27.9}, history_hours=2)
    app = make_app(KIOSK_PASSWORD_HASH=generate_password_hash(PASSWORD))
    citizen = app.test_client()
    number = number_on(post(citizen, "/permohonan", request_data()))
    sha = kiosk_store.content("document")[0]["id"]
    pages = ["/", "/informasi", "/informasi/berkala", "/pengumuman", "/kondisi", "/api/alerts", "/metrics",
             "/kondisi/grafik/dmk-wl-01/water_cm/24j.svg", "/kondisi/grafik/dmk-wl-01/water_cm/7h.svg",
             f"/dokumen/{sha}", f"/tanda-terima/{number}", f"/status/{number}", "/status", "/permohonan"]  # fmt: skip
    for page in pages:
        assert citizen.get(page).status_code in (200, 302), page
    operator = app.test_client()
    assert post(operator, "/operator/masuk", {"password": PASSWORD}).status_code == 302
    for page in ("/operator/", "/operator/pengajuan"):
        assert operator.get(page).status_code == 200, page
    with Store(kiosk_store.path) as other:  # another process's connection
        assert db.checkpoint_truncate(other.conn, wait_ms=0)
