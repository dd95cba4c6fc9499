"""Languages: Bahasa Indonesia (the source language of every string) and English (translations/en).

The chosen language lives in a plain ``lang`` cookie (not the session), so that public pages can be cached per
language. The .po files are compiled to .mo at app start when the .mo is missing or older; when the package
folder is read-only the compiled catalogues go to a temporary folder instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Request, current_app, request

from kiosk import display

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def language_of(cookies: Mapping[str, str], default: str) -> str:
    """The language a page is rendered in, from the parsed cookies (werkzeug's parser) and the kiosk's default."""
    chosen = cookies.get("lang", "")
    return chosen if chosen in LANGUAGES else default


def current_language() -> str:
    """The language of the current request's page (``id`` or ``en``)."""
    return language_of(request.cookies, str(current_app.config["KIOSK_LANGUAGE"]))


def cache_variant(default: Callable[[], str]) -> Callable[[dict[str, Any]], str]:
    """The page cache's key part for a WSGI environ: the language the app will render that request in, and the
    display modes it will render with (:mod:`kiosk.display`), e.g. ``"en|besar,kontras"``.

    The cookies are parsed by the very property the app reads, ``flask.Request(environ).cookies`` (werkzeug's
    parser over the raw ``Cookie`` header, which never raises: a byte that is not UTF-8, ``x=\xe9``, is kept as
    its Latin-1 character), so the cache and the page can never disagree, a malformed, repeated or non-UTF-8
    cookie included. (werkzeug's ``parse_cookie(environ)`` decodes the header as UTF-8 first and raises
    UnicodeDecodeError on such a byte.)
    """

    def variant(environ: dict[str, Any]) -> str:
        cookies = Request(environ).cookies
        return language_of(cookies, default()) + "|" + ",".join(display.modes_of(cookies))

    return variant


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
