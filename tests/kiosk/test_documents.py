"""The document viewer: pages rendered once when a document arrives (never per request), page controls above
and below the page, large enough for a finger; a 40-page document stays responsive."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gateway.config import Config
from gateway.sample_content import make_pdf
from gateway.store import Store
from kiosk import documents
from kiosk.renderworker import BoundedWorker
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_browser import shot

PAGES = 40


def add_document(store: Store, data_dir: Path, pages: int, title: str) -> str:
    pdf = make_pdf(
        [[f"{title}", f"Halaman {n} dari {pages}", "Isi dokumen."] for n in range(1, pages + 1)], title
    )
    sha = hashlib.sha256(pdf).hexdigest()
    (data_dir / "files").mkdir(parents=True, exist_ok=True)
    (data_dir / "files" / sha).write_bytes(pdf)
    store.apply_changes([{"kind": "document", "id": sha, "op": "upsert",
                          "data": {"title": title, "sha256": sha, "size": len(pdf)}}], "d1")  # fmt: skip
    return sha


@pytest.fixture
def worker() -> Iterator[BoundedWorker]:
    w = BoundedWorker(30.0)
    yield w
    w.close()


def test_pages_are_rendered_on_arrival_and_only_read_afterwards(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config, worker: BoundedWorker
) -> None:
    data_dir = Path(cfg.data_dir)
    sha = add_document(kiosk_store, data_dir, PAGES, "Laporan Keuangan Desa 2025")
    assert documents.prerender(kiosk_store, data_dir, worker) == PAGES
    assert documents.prerender(kiosk_store, data_dir, worker) == 0  # once
    files = {n: documents.page_path(data_dir, sha, n) for n in range(1, PAGES + 1)}
    stamps = {n: p.stat().st_mtime_ns for n, p in files.items()}
    client = make_app().test_client()
    started = time.monotonic()
    for n in range(1, PAGES + 1):
        page = client.get(f"/dokumen/{sha}?halaman={n}").get_data(as_text=True)
        assert page.count('class="pager pager-') == 2  # controls above and below the page
        image = client.get(f"/dokumen/{sha}/halaman/{n}.png")
        assert image.status_code == 200 and image.data == files[n].read_bytes()
    elapsed = time.monotonic() - started
    assert {n: p.stat().st_mtime_ns for n, p in files.items()} == stamps  # nothing rendered again
    assert elapsed < 20.0  # 80 requests served from files (tens of ms each on a busy machine)


def test_a_page_asked_before_the_prerender_is_rendered_once(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config
) -> None:
    data_dir = Path(cfg.data_dir)
    sha = add_document(kiosk_store, data_dir, 5, "Peraturan Desa")
    client = make_app().test_client()
    assert client.get(f"/dokumen/{sha}/halaman/3.png").status_code == 200
    target = documents.page_path(data_dir, sha, 3)
    stamp = target.stat().st_mtime_ns
    assert client.get(f"/dokumen/{sha}/halaman/3.png").status_code == 200
    assert target.stat().st_mtime_ns == stamp
    assert client.get(f"/dokumen/{sha}/halaman/6.png").status_code == 404


@pytest.fixture
def doc_server(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config
) -> Iterator[tuple[LiveServer, str]]:
    sha = add_document(kiosk_store, Path(cfg.data_dir), 3, "Rencana Kerja Kecamatan")
    with LiveServer(make_app()) as running:
        yield running, sha


def test_page_controls_below_the_page(doc_server: tuple[LiveServer, str], touch_page: Any) -> None:
    server, sha = doc_server
    page = touch_page
    page.goto(f"{server.url}/dokumen/{sha}?halaman=1")
    page.wait_for_function("document.querySelector('.doc-page img').naturalWidth > 0")
    image = page.locator(".doc-page img").bounding_box()
    below = page.locator(".pager-bottom .btn-page").bounding_box()
    assert below["y"] >= image["y"] + image["height"]
    assert below["height"] >= 60 and below["width"] >= 200
    page.locator(".pager-bottom .btn-page").scroll_into_view_if_needed()
    shot(page, "60-document-bottom-controls")
    page.tap(".pager-bottom .btn-page")
    page.wait_for_url("**halaman=2**")
    assert "Halaman 2 dari 3" in (page.text_content(".pager-top .pager-pos") or "")
