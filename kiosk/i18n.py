"""Languages: Bahasa Indonesia (the source language of every string) and English (translations/en).

The chosen language lives in a plain ``lang`` cookie (not the session), so that public pages can be cached per
language. The .po files are compiled to .mo at app start when the .mo is missing or older; when the package
folder is read-only the compiled catalogues go to a temporary folder instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import current_app, request

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def current_language() -> str:
    chosen = request.cookies.get("lang", "")
    return chosen if chosen in LANGUAGES else str(current_app.config["KIOSK_LANGUAGE"])


def _compile(po_path: Path, mo_path: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    mo_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = mo_path.with_suffix(".mo.part")
    with tmp.open("wb") as fh:
        write_mo(fh, catalog)
    tmp.replace(mo_path)


def ensure_compiled(source: Path = TRANSLATIONS) -> Path:
    """The translations folder holding up-to-date .mo files (compiling them if needed)."""
    stale = [
        po
        for po in source.glob("*/LC_MESSAGES/messages.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if not stale:
        return source
    try:
        for po in stale:
            _compile(po, po.with_suffix(".mo"))
        return source
    except OSError:
        target = Path(tempfile.gettempdir()) / "anjungan-kiosk-translations"
        for po in source.glob("*/LC_MESSAGES/messages.po"):
            _compile(po, target / po.relative_to(source).with_suffix(".mo"))
        return target
