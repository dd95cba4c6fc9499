"""The document viewer: pages rendered once when a document arrives (never per request), page controls above
and below the page, large enough for a finger; a 40-page document stays responsive."""

from __future__ import annotations

import hashlib
import html
import re
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


def _scan_pdf() -> bytes:
    """A one-page PDF holding only a picture, as a scanner makes it: no text layer."""
    import io

    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (595, 842), "white")
    ImageDraw.Draw(picture).text((60, 80), "MAKLUMAT PELAYANAN", fill="black")
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(pdfium.PdfBitmap.from_pil(picture))
    image.set_matrix(pdfium.PdfMatrix().scale(595, 842))
    page.insert_obj(image)
    page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _spoken_on(app: Flask, page: str) -> str:
    src = html.unescape(re.search(r'id="listen" data-src="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    passage = app.extensions["anjungan_speech"].passage(src.rsplit("/", 1)[1].removesuffix(".wav"))
    assert passage is not None and passage.owner is None  # a public document: cached on disk like any page
    return str(passage.text)


def test_a_page_is_read_aloud_from_its_text_layer(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config, worker: BoundedWorker
) -> None:
    data_dir = Path(cfg.data_dir)
    sha = add_document(kiosk_store, data_dir, 3, "Maklumat Pelayanan")
    assert documents.prerender(kiosk_store, data_dir, worker) == 3
    stored = documents.text_path(data_dir, sha, 2)  # extracted once, beside the page's image
    assert (
        stored.read_text()
        == "Maklumat Pelayanan\nHalaman 2 dari 3\nIsi dokumen.\nMaklumat Pelayanan - halaman 2"
    )
    stamp = stored.stat().st_mtime_ns
    app = make_app()
    client = app.test_client()
    page = client.get(f"/dokumen/{sha}?halaman=2").get_data(as_text=True)
    spoken = _spoken_on(app, page)
    assert spoken.startswith("Maklumat Pelayanan. ")
    assert "Halaman 2 dari 3. Isi dokumen. Maklumat Pelayanan - halaman 2." in spoken
    assert "Halaman 1 dari 3" not in spoken and "Halaman berikutnya" not in spoken
    assert stored.stat().st_mtime_ns == stamp  # read from its file, not extracted again
    documents.text_path(data_dir, sha, 3).unlink()  # a page not extracted yet: extracted on the request
    assert "Halaman 3 dari 3. Isi dokumen." in _spoken_on(
        app, client.get(f"/dokumen/{sha}?halaman=3").get_data(as_text=True)
    )
    assert documents.text_path(data_dir, sha, 3).is_file()


def test_a_scanned_page_says_it_is_a_picture(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config
) -> None:
    data_dir = Path(cfg.data_dir)
    pdf = _scan_pdf()
    sha = hashlib.sha256(pdf).hexdigest()
    (data_dir / "files").mkdir(parents=True, exist_ok=True)
    (data_dir / "files" / sha).write_bytes(pdf)
    kiosk_store.apply_changes([{"kind": "document", "id": sha, "op": "upsert",
                                "data": {"title": "Maklumat", "sha256": sha, "size": len(pdf)}}], "d1")  # fmt: skip
    app = make_app()
    client = app.test_client()
    spoken = _spoken_on(app, client.get(f"/dokumen/{sha}").get_data(as_text=True))
    assert "Halaman ini berupa gambar; mintalah bantuan petugas." in spoken
    assert documents.text_path(data_dir, sha, 1).read_text() == ""
    assert client.get(f"/dokumen/{sha}/halaman/1.png").status_code == 200  # the picture itself is shown
    client.get("/bahasa/en")
    spoken = _spoken_on(app, client.get(f"/dokumen/{sha}").get_data(as_text=True))
    assert "This page is a picture; please ask an officer for help." in spoken


def test_page_words_joins_wrapped_sentences_and_keeps_headings() -> None:
    raw = "PASAL 1\r\nPelayanan diberikan tanpa\r\nbiaya kepada warga.\r\nJam buka: 08.00\r\npela\x02\r\nyanan anak-\r\nanak\r\n\f"
    assert (
        documents.page_words(raw)
        == "PASAL 1\nPelayanan diberikan tanpa biaya kepada warga.\nJam buka: 08.00 pelayanan anak-anak"
    )
    assert documents.page_words(" \r\n \r\n") == ""
