"""The fleet's pages: the map, alerts (acknowledge), completeness with its trend, sensor charts, and setting a
kiosk's or node's place, producer and interval. Every role with ``fleet`` reads them (the teknisi included);
no page here shows a citizen's data."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from sync import protocol
from sync.central.app import central
from sync.central.backoffice import accounts, audit, forms
from sync.central.backoffice.errors import BackofficeError, Conflict
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import blueprint, requires
from sync.central.db import reading as reading_snapshot
from sync.central.fleet import alerts, charts, completeness, mapsvg, overview, places, texts
from sync.central.fleet.settings import FleetSettings

bp = blueprint("fleet")
TREND_DAYS = 30


def _cfg() -> FleetSettings:
    return FleetSettings.from_env()


def fleet_page() -> str:
    """The fleet: each kiosk's contact, backlog, health and nodes, the map, and the forms to set places."""
    now = now_ms()
    with reading_snapshot(central().engine) as conn:
        kiosks = overview.kiosks(conn, now, _cfg())
    return render_template("backoffice/fleet.html", kiosks=kiosks, streams=protocol.STREAMS, now=now,
                           opds=accounts.list_opds(central().engine), action_form=forms.EmptyForm(),
                           map_url=url_for("backoffice_fleet.map_svg"))  # fmt: skip


@bp.get("/armada/peta.svg")
@requires("fleet")
def map_svg() -> Response:
    """The map of placed kiosks and nodes (SVG, no tile server)."""
    with reading_snapshot(central().engine) as conn:
        kiosks = overview.kiosks(conn, now_ms(), _cfg())
    body = mapsvg.render(mapsvg.points(kiosks), _("Peta anjungan dan node"))
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


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
                         request.form.get("label", ""), _float("lat"), _float("lon"), actor(), now_ms())  # fmt: skip
    except places.PlaceError as err:
        raise BackofficeError(str(err)) from err
    flash(_("Tempat %(target)s disimpan.", target=gateway_id))
    return redirect(url_for("backoffice_admin.fleet") + f"#kiosk-{gateway_id}")


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
    except places.PlaceError as err:
        raise BackofficeError(str(err)) from err
    flash(_("Node %(target)s disimpan.", target=gateway_id + "/" + node))
    return redirect(url_for("backoffice_admin.fleet") + f"#kiosk-{gateway_id}")


@bp.get("/peringatan")
@requires("fleet")
def alert_list() -> str:
    """Unresolved alerts and the history (the newest 200 resolved)."""
    lang = request.cookies.get("lang", "id")
    with reading_snapshot(central().engine) as conn:
        current, history = alerts.listing(conn), alerts.listing(conn, "resolved")
        counts = alerts.counts(conn)
    for alert in current + history:
        alert["title"] = texts.title(alert["kind"], alert["gateway_id"], alert["node"], alert["detail"],
                                     "en" if lang == "en" else "id")  # fmt: skip
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
    text = request.args.get("tanggal", "")
    try:
        return date.fromisoformat(text) if text else completeness.local_date(now_ms())
    except ValueError as err:
        raise BackofficeError(_("Tanggal tidak valid.")) from err


@bp.get("/kelengkapan")
@requires("fleet")
def completeness_page() -> str:
    """Completeness per node, kiosk or producer over a day, week or month, and the trend of the last 30 days."""
    period = request.args.get("periode", "day")
    group = request.args.get("kelompok", "kiosk")
    if period not in completeness.PERIODS or group not in completeness.GROUPS:
        raise BackofficeError(_("Pilihan tidak dikenal."))
    day, now, cfg = _day(), now_ms(), _cfg()
    win = completeness.window(period, day)
    days = [day - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
    with reading_snapshot(central().engine) as conn:
        rows = completeness.report(conn, win, now, group, default_interval_s=cfg.node_default_interval_s)
        trend = completeness.trend(conn, days, now, default_interval_s=cfg.node_default_interval_s)
    zones = {z: sum(1 for r in rows if r["zone"] == z) for z in ("green", "yellow", "red", "none")}
    chart = charts.trend_chart(trend, _("Kelengkapan data per hari (persen)"))
    return render_template("backoffice/completeness.html", rows=rows, zones=zones, window=win, period=period,
                           group=group, day=day, chart=chart, periods=completeness.PERIODS,
                           groups=completeness.GROUPS)  # fmt: skip


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
    chart = charts.sensor_chart(rows, f"{gateway_id} / {node} / {name}") if rows else None
    return render_template("backoffice/sensor.html", rows=rows, chart=chart, gateway_id=gateway_id, node=node,
                           name=name, period=period, periods=list(charts.PERIODS))  # fmt: skip
