"""Documents on screen: PDF pages rendered once to PNG with pypdfium2, kept in ``<data_dir>/pages/<sha256>/``.

The sync side downloads document bytes to ``<data_dir>/files/<sha256>``. The kiosk renders every page of a
document when it arrives (:func:`prerender`, run every few seconds by ``anjungan kiosk``), each page in the
bounded render worker (:mod:`kiosk.renderworker`: a PDF that makes pdfium spin is stopped, never left holding a
request thread); a request only reads files. A page asked for before the prerender reached it is rendered
then, once, through the same worker. ``<pages>/<sha256>/count`` holds the page count.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from gateway import private
from gateway.store import Store

SHA256_RE = re.compile(r"[0-9a-f]{64}")
PAGE_WIDTH_PX = 1100
MAX_PAGES = 200

log = logging.getLogger(__name__)


class DocumentMissing(LookupError):
    """The document's file is not (yet) on this kiosk, or it cannot be read as a PDF."""


def file_path(data_dir: Path, sha256: str) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise DocumentMissing(sha256)
    return Path(data_dir) / "files" / sha256


def pages_dir(data_dir: Path, sha256: str) -> Path:
    return Path(data_dir) / "pages" / sha256


def page_path(data_dir: Path, sha256: str, number: int) -> Path:
    return pages_dir(data_dir, sha256) / f"{number}.png"


def count_pages(arg: dict[str, Any]) -> int:
    """(In the render worker.) Pages of the document ``arg["path"]``, at most MAX_PAGES; also written to
    ``arg["count_file"]``. Raises pypdfium2's error for a file that is not a PDF."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(arg["path"])
    try:
        count = min(len(pdf), MAX_PAGES)
    finally:
        pdf.close()
    _write_atomic(Path(arg["count_file"]), str(count).encode())
    return count


def render_page(arg: dict[str, Any]) -> str:
    """(In the render worker.) Render page ``arg["number"]`` (1-based) of ``arg["path"]`` to ``arg["target"]``."""
    import pypdfium2 as pdfium

    target = Path(arg["target"])
    pdf = pdfium.PdfDocument(arg["path"])
    try:
        page = pdf[int(arg["number"]) - 1]
        try:
            scale = PAGE_WIDTH_PX / max(1.0, page.get_width())
            image = page.render(scale=scale).to_pil()
        finally:
            page.close()
    finally:
        pdf.close()
    private.ensure_dir(target.parent)  # 0700, whatever the umask
    tmp = target.with_suffix(".part")
    image.save(tmp, format="PNG", optimize=True)
    tmp.replace(target)
    return str(target)


def _write_atomic(path: Path, data: bytes) -> None:
    private.ensure_dir(path.parent)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def page_count(data_dir: Path, sha256: str, worker: Any) -> int:
    """Pages of the document (at most MAX_PAGES): from its ``count`` file, else counted in ``worker``.

    Raises DocumentMissing when the file is not here or cannot be read as a PDF (or counting overran its
    bound: :class:`kiosk.renderworker.RenderError`).
    """
    path = file_path(data_dir, sha256)
    if not path.is_file():
        raise DocumentMissing(sha256)
    count_file = pages_dir(data_dir, sha256) / "count"
    if count_file.is_file():
        return int(count_file.read_text())
    from kiosk.renderworker import RenderError

    try:
        return int(
            worker.call("kiosk.documents:count_pages", {"path": str(path), "count_file": str(count_file)})
        )
    except RenderError as err:
        raise DocumentMissing(f"{sha256}: {err}") from err


def page_image(data_dir: Path, sha256: str, number: int, worker: Any) -> Path:
    """The PNG of page ``number`` (1-based): the stored file, or rendered once in ``worker`` when missing."""
    if not 1 <= number <= page_count(data_dir, sha256, worker):
        raise DocumentMissing(f"{sha256} page {number}")
    target = page_path(data_dir, sha256, number)
    if target.is_file():
        return target
    from kiosk.renderworker import RenderError

    arg = {"path": str(file_path(data_dir, sha256)), "number": number, "target": str(target)}
    try:
        worker.call("kiosk.documents:render_page", arg)
    except RenderError as err:
        raise DocumentMissing(f"{sha256} page {number}: {err}") from err
    return target


def prerender(store: Store, data_dir: Path, worker: Any) -> int:
    """Render every missing page of every document whose file is here; returns how many pages were made.

    A document that cannot be read or rendered is logged and skipped (tried again on the next call).
    """
    made = 0
    for item in store.content("document"):
        sha256 = str(item.get("id") or "")
        if not SHA256_RE.fullmatch(sha256) or not file_path(data_dir, sha256).is_file():
            continue
        try:
            count = page_count(data_dir, sha256, worker)
            for number in range(1, count + 1):
                if not page_path(data_dir, sha256, number).is_file():
                    page_image(data_dir, sha256, number, worker)
                    made += 1
        except DocumentMissing as err:
            log.warning("document %s not rendered: %s", sha256[:12], err)
    return made
