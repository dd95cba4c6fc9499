"""What the back office accepts as an uploaded document: a real PDF, nothing else.

A file is taken when it starts with the ``%PDF-`` header (ISO 32000-1 7.5.2), ends with the ``%%EOF`` marker
within its last 1,024 bytes (7.5.5; the tolerance readers allow), and pdfium (pypdfium2, the kiosk's own
renderer) opens it and finds at least one page. A file with anything after its end marker (a ZIP or an HTML
page glued to a PDF: a polyglot), or one that only looks like a PDF, is refused. The size is bounded by the
app's ``MAX_CONTENT_LENGTH`` (a larger upload is answered 413 with the back office's error page).
"""

from __future__ import annotations

from flask_babel import gettext as _

from sync.central.backoffice.errors import BackofficeError

TAIL = 1024


def check_pdf(data: bytes) -> None:
    """Raise BackofficeError unless ``data`` (the whole upload) is a real PDF as the module says."""
    if not data.startswith(b"%PDF-"):
        raise BackofficeError(_("Lampiran harus berkas PDF."))
    tail = data[-TAIL:]
    end = tail.rfind(b"%%EOF")
    if end < 0 or tail[end + 5 :].strip(b"\r\n\t\f\x00 "):
        raise BackofficeError(_("Berkas ini bukan PDF yang utuh (ada data lain setelah akhir PDF)."))
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        raise BackofficeError(_("Berkas ini tidak dapat dibuka sebagai PDF.")) from err
    try:
        pages = len(pdf)
    finally:
        pdf.close()
    if pages < 1:
        raise BackofficeError(_("Berkas ini tidak dapat dibuka sebagai PDF."))
