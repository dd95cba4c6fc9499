"""Publishing hourly sensor aggregates to a CKAN DataStore resource (``anjungan central publish-ckan``).

Contract (DESIGN.md, "open data at the central"): ``datastore_create`` with the primary key (node, name,
period start) and ``datastore_upsert`` (method ``upsert``), so that publishing the same hour again replaces
its row: a re-run after an outage never duplicates. CKAN's Action API through ``ckanapi.RemoteCKAN``.

What a run publishes: for each gateway, the hours touched by readings stored since the gateway's mark (the
highest seq already published to this resource, table ``opendata_ckan_marks``) up to its acknowledged seq,
each hour recomputed whole from every reading in it (a late reading after an outage changes its hour's row,
never adds one). A gateway's mark moves only after all its rows were accepted, so a run cut short by an outage
leaves the mark where it was and the next run sends the same rows again. The Satu Data metadata (Perpres
39/2019) of the resource's dataset is merged into the dataset's extras (``package_patch``), and each field
carries its data-dictionary entry (label, notes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.errors import AnjunganError
from sync.central.db import stream_state
from sync.central.opendata import aggregates, audit, datapackage, satudata
from sync.central.opendata.tables import ckan_marks
from sync.central.service import now_ms

log = logging.getLogger(__name__)
CHUNK = 500  # records per datastore_upsert
TIMEOUT_S = 60.0
ACTOR = "publish-ckan"
LIST_KEYS = ("konsep", "definisi", "klasifikasi", "satuan", "produsen_data", "kode_referensi")


class PublishError(AnjunganError):
    """CKAN refused or could not be reached; what was published before stays, the rest is sent next run."""


@dataclass
class Options:
    """Where to publish and what the metadata says (settings: ``utc_offset_h``, ``producer``, ``walidata``,
    ``license``)."""

    resource_id: str
    offset_h: int = 7
    producer: str = "Dinas Komunikasi dan Informatika"
    walidata: str = "Dinas Komunikasi dan Informatika"
    license: str = "CC-BY-4.0"
    chunk: int = CHUNK


@dataclass
class Report:
    """What one run did: rows upserted and, per gateway, the seq published through."""

    rows: int = 0
    gateways: dict[str, int] = field(default_factory=dict)


def remote(url: str, api_key: str) -> Any:
    """A ``ckanapi.RemoteCKAN`` for ``url`` (the portal's base URL) authenticated with ``api_key``."""
    import ckanapi

    return ckanapi.RemoteCKAN(url.rstrip("/"), apikey=api_key, user_agent="anjungan")


def _call(ckan: Any, action: str, data: dict[str, Any]) -> Any:
    import ckanapi
    import requests

    try:
        return ckan.call_action(action, data, requests_kwargs={"timeout": TIMEOUT_S})
    except (ckanapi.CKANAPIError, requests.RequestException) as err:
        raise PublishError(f"CKAN {action}: {err}") from err


def _pending(conn: Connection, resource_id: str) -> list[tuple[str, int, int]]:
    """(gateway, mark, acked) of every gateway with readings stored beyond its mark for this resource."""
    marks = dict(
        conn.execute(
            sa.select(ckan_marks.c.gateway_id, ckan_marks.c.seq).where(
                ckan_marks.c.resource_id == resource_id
            )
        ).all()
    )
    acked = conn.execute(
        sa.select(stream_state.c.gateway_id, stream_state.c.acked).where(stream_state.c.stream == "readings")
    ).all()
    return [(g, marks.get(g, 0), int(a)) for g, a in sorted(acked) if a > marks.get(g, 0)]


def gateway_rows(conn: Connection, gateway_id: str, after: int, through: int, options: Options) -> list[dict]:
    """The hourly rows of every hour touched by the gateway's readings with seq in (after, through]."""
    hours = set(aggregates.touched_hours(conn, gateway_id, after, through))
    if not hours:
        return []
    buckets = aggregates.hourly(
        conn, gateway_id=gateway_id, start_ms=min(hours), end_ms=max(hours) + aggregates.HOUR_MS
    )
    touched = {key: bucket for key, bucket in buckets.items() if key[2] in hours}
    place = satudata.place_lookup(conn, options.producer)
    return list(aggregates.as_rows(touched, "hour", place))


def ensure_table(ckan: Any, resource_id: str) -> None:
    """``datastore_create`` the resource's table: the aggregate fields and the contract's primary key (CKAN
    keeps an existing table and its rows, updating the fields' data dictionary)."""
    _call(ckan, "datastore_create", {
        "resource_id": resource_id, "force": True, "fields": datapackage.ckan_fields(),
        "primary_key": list(aggregates.PRIMARY_KEY),
    })  # fmt: skip


def upsert(ckan: Any, resource_id: str, rows: list[dict[str, Any]], chunk: int = CHUNK) -> None:
    """``datastore_upsert`` ``rows`` in chunks, method ``upsert`` (a row with a known key replaces it)."""
    for start in range(0, len(rows), chunk):
        _call(ckan, "datastore_upsert", {
            "resource_id": resource_id, "force": True, "method": "upsert",
            "records": [{k: row[k] for k in aggregates.FIELDS} for row in rows[start : start + chunk]],
        })  # fmt: skip


def merge_metadata(existing: list[dict[str, Any]], meta: dict[str, str]) -> list[dict[str, str]]:
    """The dataset's extras with ``meta`` merged in: list-valued keys (``a; b``) keep what was there and add
    what is new (a run names only the measurements it published; satudata.merge_entries, which keeps an entry
    holding "; " whole); other keys are replaced."""
    out = {str(e["key"]): str(e["value"]) for e in existing}
    for key, value in meta.items():
        if key in LIST_KEYS and out.get(key):
            value = satudata.merge_entries(key, out[key], value)
        if value:
            out[key] = value
    return [{"key": k, "value": v} for k, v in sorted(out.items())]


def update_metadata(ckan: Any, options: Options, rows: list[dict[str, Any]]) -> None:
    """Merge the Satu Data metadata of ``rows`` into the extras of the resource's dataset."""
    resource = _call(ckan, "resource_show", {"id": options.resource_id})
    package = _call(ckan, "package_show", {"id": resource["package_id"]})
    meta = satudata.dataset_metadata(rows, "hour", options.walidata)
    meta["lisensi"] = options.license
    extras = merge_metadata(package.get("extras") or [], meta)
    _call(ckan, "package_patch", {"id": package["id"], "extras": extras})


def publish(engine: Engine, ckan: Any, options: Options) -> Report:
    """One publishing run (see the module's docstring); answers what it did.

    Raises :class:`PublishError` when CKAN refuses or cannot be reached: gateways done before stay done.
    """
    report = Report()
    ensure_table(ckan, options.resource_id)
    with engine.connect() as conn:
        pending = _pending(conn, options.resource_id)
    for gateway_id, mark, acked in pending:
        with engine.connect() as conn:
            rows = gateway_rows(conn, gateway_id, mark, acked, options)
        if rows:
            upsert(ckan, options.resource_id, rows, options.chunk)
            update_metadata(ckan, options, rows)
        _set_mark(engine, options.resource_id, gateway_id, acked, len(rows))
        report.rows += len(rows)
        report.gateways[gateway_id] = acked
    return report


def _set_mark(engine: Engine, resource_id: str, gateway_id: str, seq: int, rows: int) -> None:
    with engine.begin() as conn:
        key = (ckan_marks.c.resource_id == resource_id, ckan_marks.c.gateway_id == gateway_id)
        values = {"seq": seq, "published_ms": now_ms()}
        if conn.execute(sa.select(ckan_marks.c.seq).where(*key)).first():
            conn.execute(ckan_marks.update().where(*key).values(**values))
        else:
            conn.execute(ckan_marks.insert().values(resource_id=resource_id, gateway_id=gateway_id, **values))
        if rows:
            audit.record(conn, ACTOR, "publish-ckan", resource_id, {"gateway": gateway_id, "through_seq": seq,
                                                                   "rows": rows})  # fmt: skip


def run_every(
    every_s: float, once: Callable[[], Report], stop: threading.Event, say: Callable[[str], None]
) -> None:
    """Call ``once`` now and then every ``every_s`` seconds until ``stop`` is set; a failed run is said and
    retried at the next tick (the marks make it resume where it stopped)."""
    while not stop.is_set():
        try:
            report = once()
            say(f"published {report.rows} row(s) from {len(report.gateways)} gateway(s)")
        except AnjunganError as err:
            say(f"publishing failed, retrying in {every_s:g} s: {err}")
        stop.wait(every_s)
