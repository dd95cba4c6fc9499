"""Documents on screen: PDF pages rendered once to PNG with pypdfium2, kept in ``<data_dir>/pages/<sha256>/``.

The sync side downloads document bytes to ``<data_dir>/files/<sha256>``. The kiosk renders every page of a
document when it arrives (:func:`prerender`, run every few seconds by ``anjungan kiosk``), each page in the
bounded render worker (:mod:`kiosk.renderworker`: a PDF that makes pdfium spin is stopped, never left holding a
request thread); a request only reads files. A page asked for before the prerender reached it is rendered
then, once, through the same worker. ``<pages>/<sha256>/count`` holds the page count.

Each page's text layer is extracted in the same worker, once, beside its image (``<number>.txt``, UTF-8): the
kiosk reads it aloud ("Dengarkan", kiosk/speech.py). An empty file is a page without a text layer (a scan).
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


def text_path(data_dir: Path, sha256: str, number: int) -> Path:
    return pages_dir(data_dir, sha256) / f"{number}.txt"


def extract_text(arg: dict[str, Any]) -> str:
    """(In the render worker.) The text layer of page ``arg["number"]`` (1-based) of ``arg["path"]`` as
    :func:`page_words` gives it, written to ``arg["target"]`` (UTF-8; empty for a page without one, a scan)
    and returned. Raises pypdfium2's error for a file that is not a PDF, IndexError for a page it lacks."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(arg["path"])
    try:
        page = pdf[int(arg["number"]) - 1]
        try:
            textpage = page.get_textpage()
            try:
                raw = textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()
    finally:
        pdf.close()
    text = page_words(raw)
    target = Path(arg["target"])
    private.ensure_dir(target.parent)
    tmp = target.with_name(target.name + ".part")  # not the page image's own ".part"
    tmp.write_bytes(text.encode())
    tmp.replace(target)
    return text


def page_words(raw: str) -> str:
    """pdfium's text of a page (lines ended by CR LF) as its lines of sense, one a line: a line that goes on
    with a small letter continues the line before it (a sentence wrapped by the typesetter), any other starts
    a new one (a heading, an item, a new sentence). A word broken at a line's end (pdfium's soft hyphen
    U+0002, U+00AD) is made whole; a hyphen there is kept ("anak-anak"). Control characters are dropped and
    spaces made single; "" when nothing is left (a page without a text layer, a scan)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x02\u00ad]\n(?=\w)", "", text)
    text = re.sub(r"-\n(?=\w)", "-", text)
    text = "".join(ch if ch >= " " or ch == "\n" else " " for ch in text)
    lines: list[str] = []
    for line in (" ".join(raw_line.split()) for raw_line in text.split("\n")):
        if not line:
            continue
        if lines and line[0].islower():
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "\n".join(lines)


def page_text(data_dir: Path, sha256: str, number: int, worker: Any) -> str | None:
    """The text layer of page ``number`` (1-based; see :func:`extract_text`): the stored file, or extracted
    once in ``worker`` when missing; "" for a page without one (a scan); None when it cannot be had now (the
    worker failed or overran its bound). Raises DocumentMissing for a document or page that is not here."""
    if not 1 <= number <= page_count(data_dir, sha256, worker):
        raise DocumentMissing(f"{sha256} page {number}")
    target = text_path(data_dir, sha256, number)
    try:
        return target.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    from kiosk.renderworker import RenderError

    arg = {"path": str(file_path(data_dir, sha256)), "number": number, "target": str(target)}
    try:
        return str(worker.call("kiosk.documents:extract_text", arg))
    except RenderError as err:
        log.warning("text of document %s page %d not extracted: %s", sha256[:12], number, err)
        return None


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
    """Render every missing page (and extract its missing text layer) of every document whose file is here;
    returns how many page images were made.

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
                if not text_path(data_dir, sha256, number).is_file():
                    page_text(data_dir, sha256, number, worker)
        except DocumentMissing as err:
            log.warning("document %s not rendered: %s", sha256[:12], err)
    return made
