"""Documents on screen: PDF pages rendered once to PNG with pypdfium2, kept in ``<data_dir>/pages/<sha256>/``.

The sync side downloads document bytes to ``<data_dir>/files/<sha256>``; the kiosk renders a page the first
time it is asked for (under a lock: pdfium is not thread-safe) and serves the file afterwards.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

SHA256_RE = re.compile(r"[0-9a-f]{64}")
PAGE_WIDTH_PX = 1100
MAX_PAGES = 200

_lock = threading.Lock()
_page_counts: dict[str, int] = {}


class DocumentMissing(LookupError):
    """The document's file is not (yet) on this kiosk, or it cannot be read as a PDF."""


def file_path(data_dir: Path, sha256: str) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise DocumentMissing(sha256)
    return Path(data_dir) / "files" / sha256


def page_count(data_dir: Path, sha256: str) -> int:
    """Pages of the document (at most MAX_PAGES are shown)."""
    path = file_path(data_dir, sha256)
    if not path.is_file():
        raise DocumentMissing(sha256)
    if sha256 in _page_counts:  # content-addressed: the same sha256 always has the same pages
        return _page_counts[sha256]
    import pypdfium2 as pdfium

    with _lock:
        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as err:
            raise DocumentMissing(sha256) from err
        try:
            count = min(len(pdf), MAX_PAGES)
        finally:
            pdf.close()
    _page_counts[sha256] = count
    return count


def page_image(data_dir: Path, sha256: str, number: int) -> Path:
    """The PNG of page ``number`` (1-based), rendered on first use."""
    if not 1 <= number <= page_count(data_dir, sha256):
        raise DocumentMissing(f"{sha256} page {number}")
    target = Path(data_dir) / "pages" / sha256 / f"{number}.png"
    if target.is_file():
        return target
    import pypdfium2 as pdfium

    with _lock:
        if target.is_file():
            return target
        pdf = pdfium.PdfDocument(file_path(data_dir, sha256))
        try:
            page = pdf[number - 1]
            scale = PAGE_WIDTH_PX / max(1.0, page.get_width())
            image = page.render(scale=scale).to_pil()
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            image.save(tmp, format="PNG", optimize=True)
            tmp.replace(target)
            page.close()
        finally:
            pdf.close()
    return target
