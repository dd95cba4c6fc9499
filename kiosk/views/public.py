"""Reading pages: home, public information (DIP, documents, announcements), local conditions, the banner."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from gateway.vocabulary import DipCategory
from kiosk import charts, conditions, display, documents, i18n
from kiosk.pagecache import MARKER
from kiosk.renderworker import BoundedWorker, RenderError
from kiosk.speech import Speech, SpeechBusy, SpeechUnavailable, readable_text
from kiosk.views import current_alerts, kiosk_tz, store, thresholds

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

CATEGORIES: dict[str, tuple[Any, Any]] = {  # (title, description), in the order the page lists them
    DipCategory.BERKALA: (
        _l("Informasi berkala"),
        _l("Diumumkan rutin: profil, kegiatan, kinerja, keuangan."),
    ),
    DipCategory.SERTA_MERTA: (
        _l("Informasi serta-merta"),
        _l("Segera diumumkan: bencana, wabah, gangguan layanan."),
    ),
    DipCategory.SETIAP_SAAT: (
        _l("Informasi setiap saat"),
        _l("Tersedia kapan saja bila diminta: peraturan, keputusan."),
    ),
    DipCategory.DIKECUALIKAN: (
        _l("Informasi dikecualikan"),
        _l("Tidak dapat diberikan (UU 14/2008 Pasal 17)."),
    ),
}


def cacheable(body: str) -> Response:
    """A public page the page cache may keep a few seconds (it must not depend on the session)."""
    response = make_response(body)
    response.headers[MARKER] = "public"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def home() -> Response:
    announcements = [a for a in _announcements() if not a.get("urgent")][:2]
    return cacheable(render_template("home.html", announcements=announcements))


@bp.get("/informasi")
def information() -> Response:
    counts = {key: 0 for key in CATEGORIES}
    for entry in store().content("dip"):
        counts[entry.get("category", "")] = counts.get(entry.get("category", ""), 0) + 1
    return cacheable(render_template("information.html", categories=CATEGORIES, counts=counts))


@bp.get("/informasi/<category>")
def dip(category: str) -> Response:
    """DIP entries of one category; 404 for an unknown category."""
    if category not in CATEGORIES:
        abort(404)
    entries = [e for e in store().content("dip") if e.get("category") == category]
    docs = {d["id"] for d in store().content("document")}
    title, description = CATEGORIES[category]
    return cacheable(render_template("dip.html", category=category, title=title, description=description,
                                     entries=entries, docs=docs))  # fmt: skip


def _document(sha256: str) -> dict[str, Any]:
    item = store().content_item("document", sha256) if documents.SHA256_RE.fullmatch(sha256) else None
    if item is None:
        abort(404)
    return item


@bp.get("/dokumen/<sha256>")
def document(sha256: str) -> Response | str:
    """One page of a document, as an image, with its text layer for reading aloud (kiosk/documents.py); 404 for
    an unknown document; a notice while it is not here yet."""
    item = _document(sha256)
    data_dir = current_app.config["KIOSK_DATA_DIR"]
    try:
        pages = documents.page_count(data_dir, sha256, renderer())
    except documents.DocumentMissing:
        return render_template("document_missing.html", document=item)
    number = request.args.get("halaman", 1, type=int) or 1
    number = min(max(1, number), max(1, pages))
    back = _same_origin(request.args.get("kembali")) or url_for("public.information")
    try:  # read aloud with the page ("" for a scan; None when it cannot be had now: only the title is read)
        text = documents.page_text(data_dir, sha256, number, renderer())
    except documents.DocumentMissing:
        text = None
    return render_template("document.html", document=item, page=number, pages=pages, back=back, text=text)


@bp.get("/dokumen/<sha256>/halaman/<int:number>.png")
def document_page(sha256: str, number: int) -> Response:
    """A page image; 404 for a missing document or page."""
    _document(sha256)
    try:
        path = documents.page_image(current_app.config["KIOSK_DATA_DIR"], sha256, number, renderer())
    except documents.DocumentMissing:
        abort(404)
    response = Response(path.read_bytes(), mimetype="image/png")  # small; no file handle left open
    response.headers["Cache-Control"] = "max-age=86400"
    return response


def _announcements() -> list[dict[str, Any]]:
    from kiosk.alerts import active_announcements

    return active_announcements(store())


@bp.get("/pengumuman")
def announcements() -> Response:
    return cacheable(render_template("announcements.html", announcements=_announcements()))


@bp.get("/kondisi")
def conditions_page() -> Response:
    labels = conditions.node_labels(store(), current_app.config["KIOSK_NODE_LABELS"])
    groups = conditions.node_groups(store(), int(current_app.config["KIOSK_STALE_MS"]), labels)
    return cacheable(render_template("conditions.html", groups=groups, limits=thresholds(),
                                     newest=conditions.newest_age(groups)))  # fmt: skip


@bp.get("/kondisi/grafik/<node>/<name>/<span>.svg")
def chart(node: str, name: str, span: str) -> Response:
    """A chart of one measurement (24j = 24 hours, 7h = 7 days); 404 (the kiosk's page) for an unknown span,
    and for a node or measurement the store does not know, so the chart cache only ever holds real charts.

    The chart is drawn in the bounded render worker: one that fails or overruns ``KIOSK_RENDER_SECONDS`` is
    answered with a "data belum tersedia" picture (kept a minute), never with a request thread held.
    """
    if span not in conditions.RANGES or len(node) > 32 or len(name) > 32:
        abort(404)
    if not store().knows_measurement(node, name):
        abort(404)
    limit = float(current_app.config["KIOSK_WATER_ALERT_CM"]) if name == "water_cm" else None
    cache = current_app.extensions.setdefault("anjungan_charts", conditions.ChartCache())
    lang = i18n.current_language()
    tz = str(current_app.config["BABEL_DEFAULT_TIMEZONE"])

    def make() -> tuple[bytes, bool]:
        spec = conditions.chart_spec(store(), node, name, span, limit, tz)
        try:
            svg = renderer().call("kiosk.charts:render_svg", spec)
        except RenderError as err:
            log.warning("chart %s/%s/%s not drawn: %s", node, name, span, err)
            return charts.unavailable_svg(str(_l("Data belum tersedia"))).encode(), False
        return str(svg).encode(), True

    ttl = float(current_app.config["KIOSK_CHART_CACHE_SECONDS"])
    svg, drawn = cache.get((node, name, span, lang), ttl, make)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "max-age=60" if drawn else "no-store"
    response.headers["X-Kiosk-Chart"] = "drawn" if drawn else "unavailable"
    return response


def renderer() -> BoundedWorker:
    """The app's bounded render worker (its child process starts on first use)."""
    return current_app.extensions["anjungan_renderer"]  # type: ignore[no-any-return]


@bp.get("/api/alerts")
def alerts_fragment() -> Response:
    """The serta-merta banner as an HTML fragment (polled by every page)."""
    response = make_response(render_template("_alerts.html", alerts=current_alerts()))
    response.headers["Cache-Control"] = "no-store"
    return response


_UNSAFE_IN_TARGET = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def _same_origin(target: str | None) -> str | None:
    """``target`` if it is a path on this kiosk (never another host), else None.

    Control characters, spaces and backslashes are refused outright: a CR/LF would try to split the Location
    header (``/%0d%0aSet-Cookie:x=1``), and browsers strip tabs and newlines and read ``\\`` as ``/``.
    """
    if not target or len(target) > 300 or _UNSAFE_IN_TARGET.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/bahasa/<code>")
def language(code: str) -> Any:
    """Switch the language (a cookie) and go back to the page the citizen was on."""
    response = redirect(_same_origin(request.args.get("kembali")) or url_for("public.home"))
    if code in i18n.LANGUAGES:
        response.set_cookie("lang", code, samesite="Strict", httponly=True)
    return response


@bp.get("/tampilan/<mode>/<state>")
def display_mode(mode: str, state: str) -> Any:
    """Turn a display mode (``besar``, ``kontras``, ``baca``) on (``nyala``) or off (``mati``) and go back to the
    page the citizen was on; kept in a cookie until the idle reset, like the language (kiosk/display.py)."""
    response = redirect(_same_origin(request.args.get("kembali")) or url_for("public.home"))
    if mode in display.MODES and state in ("nyala", "mati"):
        value = display.with_mode(display.current_modes(), mode, state == "nyala")
        if value:
            response.set_cookie(display.COOKIE, value, samesite="Strict", httponly=True)
        else:
            response.delete_cookie(display.COOKIE, samesite="Strict", httponly=True)
    return response


# Pages that may show personal data (a receipt, a status with its answer): what they read aloud is spoken only
# to the session that saw them and never written to disk (kiosk/speech.py).
PRIVATE_ENDPOINTS = {"submit.receipt", "submit.status_show", "submit.status_lookup"}


def speech() -> Speech:
    """The app's reader (kiosk/speech.py)."""
    return current_app.extensions["anjungan_speech"]  # type: ignore[no-any-return]


# Pages that show live values (sensor readings): their text changes with every reading, so what they read aloud
# is volatile, its audio kept in memory only, never written to the SD card (kiosk/speech.py).
LIVE_ENDPOINTS = {"public.conditions_page"}


def listen_url(*parts: Any, live: bool = False) -> str:
    """The address of the audio of ``parts`` (texts, joined as sentences) in the page's language, registering
    them with the reader; "" when there is nothing to read. Private to this session on a private page;
    volatile (audio in memory only) on a page of live values, or when ``live`` (the texts hold live values: a
    flood warning's water level)."""
    text = " ".join(_sentence(str(p)) for p in parts if p and str(p).strip())
    if not text:
        return ""
    owner = None
    if request.endpoint in PRIVATE_ENDPOINTS:
        owner = session.setdefault("reader", secrets.token_urlsafe(16))
    lang = i18n.current_language()
    key = speech().register(text, lang, owner, volatile=live or request.endpoint in LIVE_ENDPOINTS)
    return url_for("public.listen", lang=lang, key=key)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?:;," else text + "."


@bp.get("/dengarkan/<lang>/<key>.wav")
def listen(lang: str, key: str) -> Response:
    """The spoken audio (WAV) of a text the kiosk registered when it rendered a page (kiosk/speech.py); 404 for
    any other key, and for a private passage asked by another session; 503 when espeak-ng cannot speak; 429
    (with Retry-After) when this session's reading is still being made, or when the client asked too often
    (``KIOSK_LIMIT_LISTEN``). A private reading is made once per session and then served from memory; a
    volatile one (a page of live values) once, then from memory, never from or to the disk."""
    path = speech().cached(lang, key)
    if path is not None:  # streamed from the file (a page's reading can be megabytes), with Range requests
        return send_file(path, mimetype="audio/wav", conditional=True, max_age=86400)
    try:
        found = speech().audio(lang, key, session.get("reader"))
    except SpeechUnavailable as err:
        log.warning("reading aloud failed: %s", err)
        abort(503)
    except SpeechBusy:  # this session's reading is being made: one at a time, never queued
        busy = Response("", status=429, mimetype="text/plain")
        busy.headers["Retry-After"] = "2"
        return busy
    if found is None:
        abort(404)
    wav, keep = found
    response = Response(wav, mimetype="audio/wav")  # private or volatile: not kept by the browser either
    response.headers["Cache-Control"] = "max-age=86400" if keep else "private, no-store"
    return response


@bp.post("/selesai")
def finish() -> Any:
    """Start over: clear the session (form data, receipts, operator login), the language and the display modes;
    go home.

    Exempt from CSRF on purpose: it only ends the caller's own session (the idle timer posts it).
    """
    from kiosk.views.operator import end_session

    end_session()  # an operator's session ends on the server too, not only in this browser
    if session.get("reader"):
        speech().forget(session["reader"])  # what a receipt or an answer read aloud is forgotten too
    session.clear()
    response = redirect(url_for("public.home"))
    response.delete_cookie("lang", samesite="Strict", httponly=True)
    response.delete_cookie(display.COOKIE, samesite="Strict", httponly=True)
    return response


def _alerts_for_page() -> list[Any]:
    """The banner's alerts; none when the store cannot say (an error page must still render)."""
    try:
        return current_alerts()
    except Exception:
        current_app.logger.exception("the alert banner could not be read")
        return []


def node_place(node: str) -> str:
    """Where node ``node`` is (its configured place), or its id when no place is known."""
    return conditions.node_labels(store(), current_app.config["KIOSK_NODE_LABELS"]).get(node) or node


def install_template_globals(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    csrf = app.extensions["csrf"]
    assert isinstance(csrf, CSRFProtect)
    csrf.exempt(finish)
    app.jinja_env.globals["listen"] = (
        listen_url  # a global, so that imported macros (_fields.html) see it too
    )

    @app.context_processor
    def kiosk_globals() -> dict[str, Any]:
        lang = i18n.current_language()
        return {
            "office": current_app.config["KIOSK_OFFICE"],
            "lang": lang,
            "other_lang": "en" if lang == "id" else "id",
            "languages": i18n.LANGUAGES,
            "now": datetime.now(kiosk_tz()),
            "utc_offset_min": int(
                (datetime.now(kiosk_tz()).utcoffset() or timedelta()).total_seconds() // 60
            ),
            "alerts": _alerts_for_page(),
            "idle_seconds": current_app.config["KIOSK_IDLE_SECONDS"],
            "idle_warning_seconds": current_app.config["KIOSK_IDLE_WARNING_SECONDS"],
            "default_lang": current_app.config["KIOSK_LANGUAGE"],
            "poll_seconds": current_app.config["KIOSK_ALERT_POLL_SECONDS"],
            "node_place": node_place,
            "modes": display.current_modes(),
        }

    @app.template_filter("readable")
    def readable(html: Any) -> str:
        """The text of an HTML fragment as it is read aloud (kiosk/speech.py, ``readable_text``)."""
        return readable_text(str(html))

    @app.template_filter("localtime")
    def localtime(ms: int | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        return datetime.fromtimestamp(ms / 1000, kiosk_tz()).strftime(fmt) if ms else "—"

    @app.template_filter("decimal")
    def decimal(value: float, decimals: int = 0) -> str:
        """``value`` with ``decimals`` digits after the page language's decimal sign (CLDR through Babel:
        ``27,9`` in Bahasa Indonesia, ``27.9`` in English), so a reading is shown and read aloud as the
        language writes it."""
        return str(format_decimal(value, format="0" + ("." + "0" * decimals if decimals > 0 else "")))

    @app.template_filter("number_size")
    def number_size(number: str) -> str:
        """The size class that keeps a registration number (up to 46 characters) on one line at 1280 px."""
        return "number-s" if len(number) <= 34 else "number-m" if len(number) <= 42 else "number-l"

    @app.template_filter("isodate")
    def isodate(text: str | None) -> str:
        if not text:
            return "—"
        try:
            return datetime.fromisoformat(str(text).replace("Z", "+00:00")).strftime("%d-%m-%Y")
        except ValueError:
            return str(text)
