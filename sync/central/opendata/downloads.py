"""Downloads of sensor aggregates: ``GET /opendata/v1/aggregates.csv|json`` and the Data Package describing
the same query, ``GET /opendata/v1/datapackage.json``.

Query: ``gateway`` (required: one kiosk's readings, read through the index on (gateway, time)), ``node``,
``name``, ``period`` (hour, day or month; hour by default), ``start`` and ``end`` (ISO dates or datetimes; a
date or naive time is local time; the last 30 days by default; at most 400 days). Open data: no login.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from gateway.errors import AnjunganError
from sync.central.opendata import aggregates, datapackage, settings

bp = Blueprint("opendata", __name__, url_prefix="/opendata/v1")
DEFAULT_DAYS = 30
MAX_DAYS = 400


class QueryError(AnjunganError):
    """A malformed download query (answered 400 ``bad query`` with the reason)."""

    status = 400
    error = "bad query"


def parse_moment(text: str, name: str, offset_h: int) -> int:
    """Unix ms of an ISO date or datetime; a date or naive time is local (UTC offset ``offset_h``).

    Raises :class:`QueryError` naming ``name`` when ``text`` is malformed."""
    return _moment(text, name, timezone(timedelta(hours=offset_h)))


def _moment(text: str, name: str, zone: timezone) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise QueryError(f"{name} is an ISO date or datetime, e.g. 2026-11-01") from err
    return int((moment if moment.tzinfo else moment.replace(tzinfo=zone)).timestamp() * 1000)


def parse_query(args: dict[str, str], offset_h: int, now_s: float) -> dict[str, Any]:
    """The keyword arguments of :func:`aggregates.aggregate_rows` for a download's query ``args``.

    Raises :class:`QueryError` for a missing gateway, an unknown period or a malformed or too long range.
    """
    zone = timezone(timedelta(hours=offset_h))
    if not args.get("gateway"):
        raise QueryError("gateway is required (the kiosk whose readings are wanted)")
    period = args.get("period") or "hour"
    if period not in aggregates.PERIODS:
        raise QueryError(f"period is one of {', '.join(aggregates.PERIODS)}")
    end = _moment(args["end"], "end", zone) if args.get("end") else int(now_s * 1000)
    start = _moment(args["start"], "start", zone) if args.get("start") else end - DEFAULT_DAYS * 86_400_000
    if not 0 <= end - start <= MAX_DAYS * 86_400_000:
        raise QueryError(f"start is before end, at most {MAX_DAYS} days apart")
    return {"period": period, "gateway_id": args["gateway"], "node": args.get("node") or None,
            "name": args.get("name") or None, "start_ms": start, "end_ms": end}  # fmt: skip


def _rows(args: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    from sync.central.app import central

    state, config = central(), current_app.config
    query = parse_query(args, int(settings.value(config, "utc_offset_h")), state.clock())
    with state.engine.connect() as conn:
        rows = aggregates.aggregate_rows(
            conn, offset_h=int(settings.value(config, "utc_offset_h")),
            default_producer=str(settings.value(config, "producer")), **query,
        )  # fmt: skip
    return query["period"], rows


def _open(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.errorhandler(QueryError)
def _bad_query(err: QueryError) -> Response:
    return Response(
        json.dumps({"error": err.error, "detail": str(err)}), status=err.status, mimetype="application/json"
    )


@bp.get("/aggregates.<fmt>")
def aggregates_view(fmt: str) -> Response:
    """Aggregate rows as CSV or JSON (a file download); 400 for a bad query, 404 for another format."""
    if fmt not in ("csv", "json"):
        return Response("csv or json\n", status=404, mimetype="text/plain")
    period, rows = _rows(request.args.to_dict())
    body = datapackage.csv_text(rows) if fmt == "csv" else datapackage.json_text(rows)
    response = Response(body, mimetype="text/csv" if fmt == "csv" else "application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="agregat-{period}.{fmt}"'
    return _open(response)


@bp.get("/datapackage.json")
def datapackage_view() -> Response:
    """The Data Package (with Satu Data metadata) of the CSV download of the same query; 400 for a bad query."""
    args = request.args.to_dict()
    period, rows = _rows(args)
    path = url_for("opendata.aggregates_view", fmt="csv", _external=True, **args)
    config = current_app.config
    package = datapackage.descriptor(rows, period, "csv", path, walidata=str(settings.value(config, "walidata")),
                                     license=str(settings.value(config, "license")))  # fmt: skip
    return _open(Response(json.dumps(package, ensure_ascii=False), mimetype="application/json"))
