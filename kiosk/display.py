"""The citizen's display choices: large text, high contrast, and reading form fields aloud when touched.

Like the language, they live in a plain cookie (``tampilan``, the chosen modes joined by commas), not in the
session, so that public pages can be cached per choice (:func:`kiosk.i18n.cache_variant`); the idle reset
(``POST /selesai``) deletes it. They are applied as classes on ``<html>``: ``mode-besar``, ``mode-kontras``,
``mode-baca``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import request

COOKIE = "tampilan"
MODES = ("besar", "kontras", "baca")  # large text, high contrast, read fields aloud when touched


def modes_of(cookies: Mapping[str, str]) -> tuple[str, ...]:
    """The modes chosen in the parsed cookies, in :data:`MODES` order; anything else in the cookie is ignored."""
    chosen = set(cookies.get(COOKIE, "").split(","))
    return tuple(mode for mode in MODES if mode in chosen)


def current_modes() -> tuple[str, ...]:
    """The modes of the current request."""
    return modes_of(request.cookies)


def with_mode(modes: tuple[str, ...], mode: str, on: bool) -> str:
    """The cookie value for ``modes`` with ``mode`` turned on or off."""
    chosen = set(modes) | {mode} if on else set(modes) - {mode}
    return ",".join(m for m in MODES if m in chosen)
