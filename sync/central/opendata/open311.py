"""Open311 GeoReport v2, read side, at ``/open311/v2/`` (DESIGN.md, "open data at the central").

Endpoints (GeoReport v2: wiki.open311.org/GeoReport_v2): ``services.json|xml``, ``requests.json|xml`` with the
filters ``service_request_id`` (comma-separated; overrides the others), ``service_code`` (comma-separated),
``start_date``, ``end_date`` (W3C datetimes; a range of at most 90 days, the last 90 days when neither is
given) and ``status`` (``open``/``closed``, comma-separated); ``requests/<id>.json|xml`` (an array of one).

What is published: complaints only (submissions of kind ``complaint``), once the central has them, except a
complaint the citizen marked rahasia (confidential) and one an officer withheld (:func:`hide`, audited). A
request carries the complaint's category, title and text, place (free text), dates and status; never an
identity, a NIK or a phone number (those travel in a submission's ``personal`` part, never read here), never
whether the complainant chose to be anonymous, never the registration number (it would tie a citizen's receipt
to the published text) and never the officer's answer (it is addressed to the citizen; the kiosk shows it only
with the receipt's status code). The request id is the submission's random uuid.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from sqlalchemy.engine import Connection, Engine

from gateway.errors import AnjunganError
from gateway.vocabulary import SubmissionStatus
from sync.central.db import content, submissions
from sync.central.errors import CentralError
from sync.central.opendata import audit, settings
from sync.central.opendata.tables import hidden
from sync.central.service import now_ms

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FORMATS = ("json", "xml")
MAX_SPAN = timedelta(days=90)  # GeoReport v2: a start/end range may not span more than 90 days
# The kiosk's complaint categories (kiosk/forms.py CATEGORIES; the central never imports the kiosk)
SERVICES = [
    ("jalan-rusak", "Jalan rusak", "Jalan, jembatan atau saluran yang rusak."),
    ("sampah", "Sampah", "Sampah yang tidak terangkut atau dibuang sembarangan."),
    ("banjir", "Banjir", "Genangan, banjir atau saluran air yang tersumbat."),
    ("pelayanan-publik", "Pelayanan publik", "Pelayanan kantor pemerintahan."),
    ("bansos", "Bantuan sosial (bansos)", "Penyaluran bantuan sosial."),
    ("adminduk", "Administrasi kependudukan", "KTP, KK, akta dan dokumen kependudukan lain."),
    ("kesehatan", "Kesehatan", "Pelayanan kesehatan."),
    ("pendidikan", "Pendidikan", "Sekolah dan pendidikan."),
    ("listrik-air", "Listrik / air bersih", "Listrik dan air bersih."),
    ("pungli", "Pungutan liar (pungli)", "Pungutan yang tidak sah."),
    ("dana-desa", "Dana desa", "Penggunaan dana desa."),
    ("lainnya", "Lainnya", "Hal lain."),
]
SERVICE_NAMES = {code: name for code, name, _ in SERVICES}
# the central's submission statuses that close a request
CLOSED = {SubmissionStatus.ANSWERED, SubmissionStatus.REJECTED, SubmissionStatus.CLOSED}
STATUS_NOTES: dict[str, str] = {
    SubmissionStatus.RECEIVED: "Diterima",
    SubmissionStatus.IN_PROGRESS: "Sedang ditindaklanjuti",
    SubmissionStatus.ANSWERED: "Sudah ditanggapi",
    SubmissionStatus.REJECTED: "Ditolak",
    SubmissionStatus.EXTENDED: "Waktu penyelesaian diperpanjang",
    SubmissionStatus.CLOSED: "Selesai",
}
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)  # fmt: skip
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")


class Open311Error(AnjunganError):
    """A GeoReport error answer: an HTTP status and a description (answered as the spec's ``errors``, whose
    ``code`` is the status: GeoReport v2 gives each error its own, so it is this error's, not its class's)."""

    status: int

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


# --- what is published ---------------------------------------------------------------------------------


def services() -> list[dict[str, Any]]:
    """Every service (complaint category) with the GeoReport v2 service fields."""
    return [
        {"service_code": code, "service_name": name, "description": text, "metadata": False, "type": "batch",
         "keywords": f"pengaduan, {code}", "group": "Pengaduan"}
        for code, name, text in SERVICES
    ]  # fmt: skip


def _submitted_ms() -> Any:
    return sa.case((submissions.c.clock_ok.is_(True), submissions.c.true_ms), else_=submissions.c.at_ms)


def _published_complaints() -> sa.Select:
    """Complaints not withheld by an officer (rahasia ones are dropped in :func:`_visible`)."""
    return (
        sa.select(
            submissions.c.gateway_id,
            submissions.c.uuid,
            submissions.c.number,
            submissions.c.due_date,
            submissions.c.public,
            _submitted_ms().label("submitted_ms"),
        )
        .select_from(submissions.outerjoin(hidden, hidden.c.uuid == submissions.c.uuid))
        .where(submissions.c.kind == "complaint", hidden.c.uuid.is_(None))
    )


def _visible(public: dict[str, Any]) -> bool:
    """A complaint is published unless the citizen marked it rahasia (confidential)."""
    return not public.get("rahasia", True)  # a complaint that does not say is not published


def _statuses(conn: Connection, rows: Sequence[Any]) -> dict[tuple[str, str], tuple[dict[str, Any], int]]:
    """(gateway, number) -> (the officer's latest status data, its change time ms) for ``rows``."""
    numbers = sorted({row.number for row in rows})
    out: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
    for start in range(0, len(numbers), 500):
        query = sa.select(content.c.scope, content.c.item_id, content.c.data, content.c.changed_ms).where(
            content.c.kind == "submission", content.c.op == "upsert",
            content.c.item_id.in_(numbers[start : start + 500]),
        )  # fmt: skip
        for scope, number, data, changed in conn.execute(query):
            out[(scope, number)] = (json.loads(data), int(changed))
    return out


def _datetime(ms: int | None, zone: timezone) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="seconds")


def _expected(due_date: str | None, zone: timezone) -> str | None:
    """The end of the due date's working day (its last second) in local time, or None."""
    if not due_date:
        return None
    try:
        day = datetime.strptime(due_date, "%Y-%m-%d")
    except ValueError:
        return None
    return day.replace(hour=23, minute=59, second=59, tzinfo=zone).isoformat(timespec="seconds")


def as_request(row: Any, status: tuple[dict[str, Any], int] | None, zone: timezone, agency: str) -> dict:
    """One complaint as a GeoReport v2 request (every field of :data:`REQUEST_FIELDS`, in that order)."""
    public = json.loads(row.public)
    data, changed_ms = status or ({}, None)
    state = data.get("status", SubmissionStatus.RECEIVED)
    code = str(public.get("kategori") or "lainnya")
    title, text = str(public.get("judul") or "").strip(), str(public.get("isi") or "").strip()
    return {
        "service_request_id": row.uuid,
        "status": "closed" if state in CLOSED else "open",
        "status_notes": STATUS_NOTES.get(state, state),
        "service_name": SERVICE_NAMES.get(code, code),
        "service_code": code,
        "description": f"{title}\n\n{text}" if title and text else title or text,
        "agency_responsible": agency or None,
        "service_notice": None,
        "requested_datetime": _datetime(row.submitted_ms, zone),
        "updated_datetime": _datetime(max(changed_ms or 0, row.submitted_ms), zone),
        "expected_datetime": _expected(data.get("due_date") or row.due_date, zone),
        "address": public.get("lokasi") or None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _zone(config: Any) -> timezone:
    return timezone(timedelta(hours=int(settings.value(config, "utc_offset_h"))))


def _answer(conn: Connection, rows: Sequence[Any], config: Any, limit: int) -> list[dict[str, Any]]:
    rows = [row for row in rows if _visible(json.loads(row.public))][:limit]
    statuses = _statuses(conn, rows)
    zone, agency = _zone(config), str(settings.value(config, "open311_agency"))
    return [as_request(row, statuses.get((row.gateway_id, row.number)), zone, agency) for row in rows]


def find_requests(engine: Engine, args: dict[str, str], config: Any, now_s: float) -> list[dict[str, Any]]:
    """The requests matching GeoReport v2 ``args`` (the query parameters), newest first.

    Raises :class:`Open311Error` (400) for a malformed date or status, or a range over 90 days.
    """
    limit = int(settings.value(config, "open311_max_requests"))
    ids = [i.strip() for i in (args.get("service_request_id") or "").split(",") if i.strip()]
    query = _published_complaints().order_by(sa.desc("submitted_ms"), submissions.c.uuid)
    if ids:  # GeoReport v2: service_request_id overrides every other parameter
        with engine.connect() as conn:
            rows = conn.execute(query.where(submissions.c.uuid.in_(ids[:limit]))).all()
            return _answer(conn, rows, config, limit)
    start, end = _date_range(args, _zone(config), now_s)
    query = query.where(_submitted_ms() >= start, _submitted_ms() <= end)
    codes = {c.strip() for c in (args.get("service_code") or "").split(",") if c.strip()}
    wanted = _wanted_statuses(args.get("status"))
    with engine.connect() as conn:
        rows = [r for r in conn.execute(query).all() if not codes or _code(r) in codes]
        found = _answer(conn, rows, config, len(rows))
    return [r for r in found if r["status"] in wanted][:limit]


def _code(row: Any) -> str:
    return str(json.loads(row.public).get("kategori") or "lainnya")


def _wanted_statuses(text: str | None) -> set[str]:
    wanted = {s.strip().lower() for s in (text or "").split(",") if s.strip()}
    if wanted - {"open", "closed"}:
        raise Open311Error(400, "status is open, closed or both (comma-separated)")
    return wanted or {"open", "closed"}


def _parse_date(text: str, name: str, zone: timezone) -> int:
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))  # a '+' arrives as ' ' unescaped
    except ValueError as err:
        raise Open311Error(400, f"{name} is a W3C datetime, e.g. 2026-01-01T00:00:00+07:00") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp() * 1000)


def _date_range(args: dict[str, str], zone: timezone, now_s: float) -> tuple[int, int]:
    """(start ms, end ms) of the search: the given dates, at most 90 days apart; the last 90 days by default."""
    span = int(MAX_SPAN.total_seconds() * 1000)
    start = _parse_date(args["start_date"], "start_date", zone) if args.get("start_date") else None
    end = _parse_date(args["end_date"], "end_date", zone) if args.get("end_date") else None
    if start is None and end is None:
        end = int(now_s * 1000)
    if start is None:
        assert end is not None
        start = end - span
    if end is None:
        end = start + span
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > span:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return start, end


def find_request(engine: Engine, request_id: str, config: Any) -> dict[str, Any] | None:
    """The published request ``request_id``, or None (unknown, not a complaint, rahasia, or withheld)."""
    with engine.connect() as conn:
        rows = conn.execute(_published_complaints().where(submissions.c.uuid == request_id).limit(1)).all()
        found = _answer(conn, rows, config, 1)
    return found[0] if found else None


# --- officers withholding a complaint ----------------------------------------------------------------


def _complaint_uuid(conn: Connection, ref: str) -> str:
    """The uuid of the complaint whose uuid or registration number is ``ref``; CentralError when none."""
    ref = ref.strip()
    uuid = conn.execute(
        sa.select(submissions.c.uuid)
        .where(submissions.c.kind == "complaint",
               sa.or_(submissions.c.uuid == ref, submissions.c.number == ref.upper()))
        .limit(1)
    ).scalar()  # fmt: skip
    if uuid is None:
        raise CentralError(f"no complaint {ref!r} (give its Open311 id or its registration number)")
    return str(uuid)


def hide(engine: Engine, ref: str, reason: str, actor: str) -> str:
    """Withhold complaint ``ref`` (uuid or registration number) from Open311 with a reason; audited.

    Answers the complaint's uuid. Raises :class:`CentralError` without a reason or for an unknown complaint.
    """
    if not reason.strip():
        raise CentralError("say why the complaint is withheld (--reason)")
    with engine.begin() as conn:
        uuid = _complaint_uuid(conn, ref)
        conn.execute(hidden.delete().where(hidden.c.uuid == uuid))
        conn.execute(hidden.insert().values(uuid=uuid, reason=reason.strip(), hidden_by=actor.strip()[:64],
                                            hidden_ms=now_ms()))  # fmt: skip
        audit.record(conn, actor, "open311-hide", uuid, {"reason": reason.strip()})
    return uuid


def unhide(engine: Engine, ref: str, reason: str, actor: str) -> str:
    """Publish again a complaint withheld by :func:`hide`; audited. Raises :class:`CentralError` when it was
    not withheld or has no reason given."""
    if not reason.strip():
        raise CentralError("say why the complaint is shown again (--reason)")
    with engine.begin() as conn:
        uuid = _complaint_uuid(conn, ref)
        if not conn.execute(hidden.delete().where(hidden.c.uuid == uuid)).rowcount:
            raise CentralError(f"complaint {ref!r} is not withheld")
        audit.record(conn, actor, "open311-show", uuid, {"reason": reason.strip()})
    return uuid


def withholding(engine: Engine, number: str) -> dict[str, Any] | None:
    """Whether complaint ``number`` (its registration number) is withheld: ``{"uuid", "reason", "hidden_by",
    "hidden_ms"}``, or None when it is published (or is no complaint)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(hidden).join(submissions, submissions.c.uuid == hidden.c.uuid)
            .where(submissions.c.kind == "complaint", submissions.c.number == number.strip().upper()).limit(1)
        ).mappings().first()  # fmt: skip
    return dict(row) if row else None


def withheld(engine: Engine) -> list[dict[str, Any]]:
    """Every withheld complaint: ``{"uuid", "reason", "hidden_by", "hidden_ms"}``, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(hidden).order_by(hidden.c.hidden_ms.desc())).mappings().all()
    return [dict(row) for row in rows]


# --- HTTP ---------------------------------------------------------------------------------------------


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(root: str, item: str, rows: list[dict[str, Any]], fields: tuple[str, ...]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        for name in fields:
            ET.SubElement(element, name).text = _xml_value(row.get(name))
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _respond(fmt: str, root: str, item: str, rows: list[dict[str, Any]], fields: tuple[str, ...]) -> Response:
    if fmt == "xml":
        response = Response(_xml(root, item, rows, fields), mimetype="text/xml")
    else:
        response = Response(json.dumps(rows, ensure_ascii=False), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"  # open data: any web page may read it
    return response


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"no format {fmt!r}: json or xml")
    return fmt


@bp.errorhandler(Open311Error)
def _error(err: Open311Error) -> Response:
    fmt = "xml" if request.path.endswith(".xml") else "json"
    response = _respond(fmt, "errors", "error", [{"code": err.status, "description": err.description}],
                        ("code", "description"))  # fmt: skip
    response.status_code = err.status
    return response


@bp.get("/services.<fmt>")
def services_view(fmt: str) -> Response:
    """GeoReport v2 service list; 404 for a format other than json or xml."""
    return _respond(_format(fmt), "services", "service", services(), SERVICE_FIELDS)


@bp.get("/requests.<fmt>")
def requests_view(fmt: str) -> Response:
    """GeoReport v2 service requests; 400 for a malformed filter, 404 for a format other than json or xml."""
    from sync.central.app import central

    state = central()
    found = find_requests(state.engine, request.args.to_dict(), current_app.config, state.clock())
    return _respond(_format(fmt), "service_requests", "request", found, REQUEST_FIELDS)


@bp.get("/requests/<request_id>.<fmt>")
def request_view(request_id: str, fmt: str) -> Response:
    """One GeoReport v2 service request, as a list of one; 404 when it is not published."""
    from sync.central.app import central

    fmt = _format(fmt)
    found = find_request(central().engine, request_id, current_app.config)
    if found is None:
        raise Open311Error(404, f"no service request {request_id!r}")
    return _respond(fmt, "service_requests", "request", [found], REQUEST_FIELDS)
