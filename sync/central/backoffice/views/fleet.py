"""The fleet's pages: the fleet a page of kiosks at a time with its map, a kiosk's own page, the whole map,
alerts (acknowledge), completeness with its trend, sensor charts, and setting a kiosk's or node's place,
producer and interval. Measurements are named by their labels (:mod:`sync.central.measures`). Every role with
``fleet`` reads them (the teknisi included); no page here shows a citizen's data."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, after_this_request, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.exceptions import NotFound

from gateway.vocabulary import Stream
from sync import protocol
from sync.central import measures, numbers, service
from sync.central.app import central
from sync.central.backoffice import accounts, audit, current_language, forms
from sync.central.backoffice.errors import BackofficeError, Conflict
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import SECURITY_HEADERS, blueprint, page_arg, requires
from sync.central.db import reading as reading_snapshot
from sync.central.fleet import alerts, charts, completeness, mapsvg, overview, places, texts
from sync.central.fleet.settings import FleetSettings

bp = blueprint("fleet")


def _cfg() -> FleetSettings:
    return FleetSettings.from_env()


@bp.app_template_filter("waktu")
def local_time(ms: int) -> str:
    """A fleet time (Unix ms) in the regency's local time (texts.local_time)."""
    return texts.local_time(int(ms))


@bp.app_template_filter("stream")
def stream_label(stream: str) -> str:
    """A sync stream's name in the officer's language (``submissions`` -> ``pengajuan``); another as it is."""
    labels: dict[str, str] = {
        Stream.SUBMISSIONS: _("pengajuan"),
        Stream.EVENTS: _("peristiwa"),
        Stream.RATINGS: _("penilaian SKM"),
        Stream.READINGS: _("bacaan"),
    }
    return str(labels.get(stream, stream))


@bp.app_template_filter("measure")
def measure_label(name: str) -> str:
    """A measurement's label with its unit in the officer's language (``water_cm`` -> ``Tinggi muka air (cm)``;
    :mod:`sync.central.measures`); an unknown name as it is."""
    return measures.label(name, current_language())


@bp.app_template_filter("angka")
def number_filter(value: float | int | None, decimals: int = 3, fixed: bool = False) -> str:
    """A number in the page's language (Babel: ``1.234,5`` in Bahasa Indonesia); "—" for None."""
    return "—" if value is None else numbers.number(value, current_language(), decimals, fixed=fixed)


@bp.app_template_filter("nilai")
def measured_filter(value: float | int | None, name: str) -> str:
    """A value of measurement ``name`` at its precision in the page's language; "—" for None."""
    return "—" if value is None else numbers.measured(value, name, current_language())


@bp.app_template_filter("persen")
def percent_filter(value: float | None) -> str:
    """A percentage in the page's language (``93,5 %``); "—" for None."""
    return "—" if value is None else numbers.percent(value, current_language())


def _images_from(policy: str, origin: str) -> str:
    """Content-Security-Policy ``policy`` with ``origin`` added to its ``img-src`` (made from ``default-src``
    when it has none), everything else as it was."""
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    names = [d.split()[0] for d in directives]
    if "img-src" not in names:
        fallback = directives[names.index("default-src")].split()[1:] if "default-src" in names else []
        directives.append(" ".join(["img-src", *fallback]))
        names.append("img-src")
    at = names.index("img-src")
    directives[at] += f" {origin}"
    return "; ".join(directives)


def _tiles(cfg: FleetSettings) -> mapsvg.Tiles | None:
    """The map's tile source when a tile URL is configured; with it, this response's Content-Security-Policy
    lets the page's images come from the tiles' origin too (the back office's policy allows only its own)."""
    if not cfg.tile_url:
        return None
    tiles = mapsvg.Tiles(cfg.tile_url, cfg.tile_attribution)
    policy = _images_from(SECURITY_HEADERS["Content-Security-Policy"], tiles.origin)

    @after_this_request
    def _allow_tiles(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        return response

    return tiles


class Formats:
    """The fleet page's formatters, ``when``, ``duration`` and ``size`` (Python, not template macros: a page of
    kiosks and nodes calls them hundreds of times), with their words translated once per page."""

    def __init__(self) -> None:
        self.never, self.just_now = _("belum pernah"), _("baru saja")
        # (below this many seconds, words, unit in seconds); gettext without values: the page fills in %(n)d
        self.ago = [(120, _("%(n)d detik lalu"), 1), (7200, _("%(n)d menit lalu"), 60),
                    (172800, _("%(n)d jam lalu"), 3600), (None, _("%(n)d hari lalu"), 86400)]  # fmt: skip
        self.spans = [(120, _("%(n)d detik"), 1), (7200, _("%(n)d menit"), 60), (172800, _("%(n)d jam"), 3600),
                      (None, _("%(n)d hari"), 86400)]  # fmt: skip

    @staticmethod
    def _words(s: int, table: list[tuple[int | None, str, int]]) -> str:
        for below, words, unit in table:
            if below is None or s < below:
                return words % {"n": s // unit}
        raise AssertionError("the last row has no bound")

    def as_dict(self) -> dict[str, Any]:
        return {"when": self.when, "duration": self.duration, "size": self.size}

    def when(self, ms: int | None, now: int) -> Markup | str:
        """``ms`` (ms UTC) as how long before ``now`` it was, in a ``<time>`` with the ISO 8601 moment."""
        if ms is None:
            return self.never
        age = self.just_now if now < ms else self._words((now - ms) // 1000, self.ago)
        moment = service.iso_utc(ms)  # digits, dashes, colons, a dot, T and Z: nothing to escape
        return Markup(f'<time datetime="{moment}" title="{moment}">{escape(age)}</time>')

    def duration(self, s: int | None) -> str:
        """A duration in seconds in words (seconds, minutes, hours or days); "—" for None."""
        return "—" if s is None else self._words(s, self.spans)

    @staticmethod
    def size(b: int | None) -> str:
        """A size in bytes in GiB, MiB or KiB in the page's language (``1,9 GiB``); "—" for None."""
        if b is None:
            return "—"
        lang = current_language()
        if b >= 1 << 30:
            return f"{numbers.number(b / (1 << 30), lang, 1, fixed=True)} GiB"
        if b >= 1 << 20:
            return f"{numbers.number(b / (1 << 20), lang, 1, fixed=True)} MiB"
        return f"{numbers.number(b // 1024, lang, 0)} KiB"


def _map(kiosks: list[dict[str, Any]], cfg: FleetSettings) -> Markup | None:
    """The SVG map of the placed ones of ``kiosks`` and their shown nodes, for the page as it is (every text in
    it escaped); None when none is placed."""
    spots = mapsvg.points(kiosks)
    return (
        Markup(mapsvg.render(spots, _("Peta anjungan dan node"), _tiles(cfg), current_language()))
        if spots
        else None
    )


def _query() -> tuple[overview.Query, dict[str, str]]:
    """The fleet page's query (``q``, ``state``, ``sort``, ``page``) and the filters to keep in its links."""
    args = {k: request.args.get(k, "").strip()[:100] for k in ("q", "state", "sort")}
    try:
        query = overview.Query(args["q"], args["state"], args["sort"] or "id", page_arg())
    except ValueError as err:
        raise BackofficeError(_("Pilihan tidak dikenal.")) from err
    return query, {k: v for k, v in args.items() if v}


def fleet_page() -> str:
    """The fleet, a page of kiosks at a time (filters, sort and page in the URL): each kiosk's contact,
    backlog, health and first nodes (silent first), the map of the page's kiosks, and the forms to set places."""
    now, cfg = now_ms(), _cfg()
    query, args = _query()
    with reading_snapshot(central().engine) as conn:
        result = overview.page(conn, now, cfg, query)
    return render_template("backoffice/fleet.html", result=result, kiosks=result.kiosks, args=args, query=query,
                           streams=protocol.STREAMS, now=now, opds=accounts.list_opds(central().engine),
                           action_form=forms.EmptyForm(), map=_map(result.kiosks, cfg), single=None,
                           states=overview.STATES, sorts=overview.SORTS, **Formats().as_dict())  # fmt: skip


@bp.get("/armada/anjungan/<gateway_id>")
@requires("fleet")
def kiosk_page(gateway_id: str) -> str:
    """One kiosk with all its nodes, a page of them at a time (``page``); 404 for an unknown kiosk."""
    now, cfg, number, per = now_ms(), _cfg(), page_arg(), overview.NODES_PER_PAGE
    with reading_snapshot(central().engine) as conn:
        result = overview.page(conn, now, cfg, overview.Query(gateway=gateway_id), nodes_shown=per,
                               node_offset=(number - 1) * per)  # fmt: skip
        if not result.kiosks:
            raise NotFound()
        node_pages = max(1, -(-result.kiosks[0]["nodes_total"] // per))
        if number > node_pages:  # past the last page: the last one
            number = node_pages
            result = overview.page(conn, now, cfg, overview.Query(gateway=gateway_id), nodes_shown=per,
                                   node_offset=(number - 1) * per)  # fmt: skip
    kiosk = result.kiosks[0]
    return render_template("backoffice/fleet.html", result=result, kiosks=result.kiosks, args={}, query=None,
                           streams=protocol.STREAMS, now=now, opds=accounts.list_opds(central().engine),
                           action_form=forms.EmptyForm(), map=_map(result.kiosks, cfg), single=kiosk,
                           node_page=number, node_pages=node_pages, **Formats().as_dict())  # fmt: skip


@bp.get("/armada/peta.svg")
@requires("fleet")
def map_svg() -> Response:
    """The map of every placed kiosk and node of the regency (an SVG document; tiles under it when configured).
    A point links to its kiosk's own page."""
    cfg = _cfg()
    with reading_snapshot(central().engine) as conn:
        kiosks = overview.placed(conn, now_ms(), cfg)
    spots = mapsvg.points(kiosks, lambda gw: url_for(".kiosk_page", gateway_id=gw))
    body = mapsvg.render(spots, _("Peta anjungan dan node"), _tiles(cfg), current_language())
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def _place_error(err: places.PlaceError, node: str) -> BackofficeError:
    """The place or node form's own error for ``err`` in the officer's language (400)."""
    words = {
        "node-id": _("Id node tidak valid: huruf kecil, angka dan tanda hubung, paling banyak 32."),
        "coordinates-pair": _("Isi lintang dan bujur, atau kosongkan keduanya."),
        "coordinates-range": _("Koordinat di luar jangkauan: lintang -90 sampai 90, bujur -180 sampai 180."),
        "label": _("Tempat memerlukan nama."),
        "unknown-node": _("Node %(node)s belum pernah terdengar di anjungan ini.", node=node),
        "node-needed": _("Isi id node."),
        "interval": _("Interval 1 sampai 86400 detik (0: seperti dilaporkan anjungan)."),
        "unknown-gateway": _("Anjungan tidak dikenal."),
        "node-heard": _("Node %(node)s sudah melapor atau memiliki bacaan: tidak dihapus.", node=node),
    }
    return BackofficeError(words.get(err.code, str(err)))


def _gateway() -> str:
    gateway_id = request.form.get("gateway", "").strip()
    if not gateway_id or central().secret(gateway_id) is None:
        raise BackofficeError(_("Anjungan tidak dikenal."))
    return gateway_id


def _float(name: str) -> float | None:
    text = request.form.get(name, "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError as err:
        raise BackofficeError(_("Koordinat tidak valid.")) from err


@bp.post("/armada/tempat")
@requires("fleet_edit")
def set_place() -> Any:
    """Set the place of a kiosk (form ``gateway``; ``node`` empty) or a node; audited. 400 for a bad value."""
    gateway_id = _gateway()
    try:
        places.set_place(central().engine, gateway_id, request.form.get("node", "").strip(),
                         request.form.get("label", ""), _float("lat"), _float("lon"), actor(), now_ms(),
                         known_only=True)  # fmt: skip
    except places.PlaceError as err:
        raise _place_error(err, request.form.get("node", "").strip()) from err
    flash(_("Tempat %(target)s disimpan.", target=gateway_id))
    return redirect(url_for(".kiosk_page", gateway_id=gateway_id))


@bp.post("/armada/node")
@requires("fleet_edit")
def set_node() -> Any:
    """Set a node's (form ``gateway``, ``node``) producer (an OPD) and reading interval; audited. 400 for a bad
    value or an unknown kiosk."""
    gateway_id, node = _gateway(), request.form.get("node", "").strip()
    interval = request.form.get("interval_s", "").strip()
    if interval and not interval.isdigit():
        raise BackofficeError(_("Interval tidak valid."))
    try:
        places.set_node(central().engine, gateway_id, node, actor(), now_ms(),
                        producer=request.form.get("producer"), interval_s=int(interval) if interval else None)  # fmt: skip
    except accounts.UnknownOpd as err:
        raise BackofficeError(_("OPD %(code)s tidak dikenal. OPD yang dikenal: %(known)s.", code=err.code,
                                known=", ".join(err.known) or "—")) from err  # fmt: skip
    except places.PlaceError as err:
        raise _place_error(err, node) from err
    flash(_("Node %(target)s disimpan.", target=gateway_id + "/" + node))
    return redirect(url_for(".kiosk_page", gateway_id=gateway_id))


@bp.get("/peringatan")
@requires("fleet")
def alert_list() -> str:
    """Unresolved alerts and the history (the newest 200 resolved)."""
    lang = current_language()
    with reading_snapshot(central().engine) as conn:
        current, history = alerts.listing(conn), alerts.listing(conn, "resolved")
        counts = alerts.counts(conn)
    for alert in current + history:
        alert["title"] = texts.title(alert["kind"], alert["gateway_id"], alert["node"], alert["detail"], lang)
        alert["details"] = texts.detail_items(alert["detail"], lang)
    return render_template("backoffice/alerts.html", current=current, history=history, counts=counts,
                           action_form=forms.EmptyForm())  # fmt: skip


@bp.post("/peringatan/<int:alert_id>/terima")
@requires("fleet")
def acknowledge(alert_id: int) -> Any:
    """Acknowledge an open alert (by the officer logged in); audited. 404 unknown, 409 not open."""
    engine, at = central().engine, now_ms()
    with engine.begin() as conn:
        try:
            before = alerts.acknowledge(conn, alert_id, actor().username, at)
        except alerts.AlertError as err:
            if str(err) == "no such alert":
                raise NotFound() from err
            raise Conflict(str(err)) from err
        audit.record(conn, actor(), "alert-ack", f"alert:{alert_id}", at, {"state": before["state"]},
                     {"state": "acknowledged"})  # fmt: skip
    flash(_("Peringatan #%(id)d diterima.", id=alert_id))
    return redirect(url_for(".alert_list"))


def _day() -> date:
    """The ``tanggal`` asked for (ISO date), today by default; BackofficeError (400) for a date that is not one
    or lies outside completeness.FIRST_DAY .. LAST_DAY."""
    text = request.args.get("tanggal", "")
    try:
        day = date.fromisoformat(text) if text else completeness.local_date(now_ms())
    except ValueError as err:
        raise BackofficeError(_("Tanggal tidak valid.")) from err
    if not completeness.FIRST_DAY <= day <= completeness.LAST_DAY:
        raise BackofficeError(_("Tanggal tidak valid."))
    return day


@bp.get("/kelengkapan")
@requires("fleet")
def completeness_page() -> str:
    """Completeness per node, kiosk or producer over a day, week or month, and its trend over the chosen
    period's last windows (30 days, 12 weeks or 6 months: completeness.TREND_WINDOWS)."""
    period = request.args.get("periode", "day")
    group = request.args.get("kelompok", "kiosk")
    if period not in completeness.PERIODS or group not in completeness.GROUPS:
        raise BackofficeError(_("Pilihan tidak dikenal."))
    day, now, cfg, lang = _day(), now_ms(), _cfg(), current_language()
    win = completeness.window(period, day)
    with reading_snapshot(central().engine) as conn:
        rows = completeness.report(conn, win, now, group, default_interval_s=cfg.node_default_interval_s)
        trend = completeness.period_trend(conn, completeness.windows_back(period, day), now,
                                          default_interval_s=cfg.node_default_interval_s)  # fmt: skip
    zones = {z: sum(1 for r in rows if r["zone"] == z) for z in ("green", "yellow", "red", "none")}
    week_words = _("Minggu {week}, {year}")
    for point in trend:
        point["label"] = numbers.period_label(period, date.fromisoformat(point["start"]), lang, week_words)
    title = {"day": _("Kelengkapan data per hari, 30 hari terakhir (persen)"),
             "week": _("Kelengkapan data per minggu, 12 minggu terakhir (persen)"),
             "month": _("Kelengkapan data per bulan, 6 bulan terakhir (persen)")}[period]  # fmt: skip
    chart = charts.trend_chart(trend, title, lang)
    first = completeness.local_date(win.start_ms)
    return render_template("backoffice/completeness.html", rows=rows, zones=zones, window=win, period=period,
                           group=group, day=day, chart=chart, chart_title=title, periods=completeness.PERIODS,
                           groups=completeness.GROUPS,
                           window_label=numbers.period_label(period, first, lang, week_words))  # fmt: skip


@bp.get("/grafik/<gateway_id>/<node>/<name>")
@requires("fleet")
def sensor_chart(gateway_id: str, node: str, name: str) -> str:
    """A measurement's hourly (48 h), daily (60 days) or monthly (24 months) mean, min and max; 404 if none."""
    period = request.args.get("periode", "hour")
    if period not in charts.PERIODS:
        raise BackofficeError(_("Pilihan tidak dikenal."))
    with reading_snapshot(central().engine) as conn:
        rows = charts.aggregates(conn, gateway_id, node, name, period, now_ms())
    if not rows and period == "hour":
        with reading_snapshot(central().engine) as conn:
            if not charts.aggregates(conn, gateway_id, node, name, "month", now_ms()):
                raise NotFound()
    chart = (
        charts.sensor_chart(rows, f"{gateway_id} / {node} / {measure_label(name)}", current_language(),
                            measures.decimals_of(name) + 1, (_("Rata-rata"), _("Min"), _("Maks")))
        if rows else None
    )  # fmt: skip
    return render_template("backoffice/sensor.html", rows=rows, chart=chart, gateway_id=gateway_id, node=node,
                           name=name, period=period, periods=list(charts.PERIODS),
                           measure_decimals=measures.decimals_of(name), summed=measures.summed(name))  # fmt: skip
