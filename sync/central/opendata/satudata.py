"""Satu Data Indonesia metadata (Perpres 39/2019): the data standard of each measurement, the producer and the
Kemendagri region code of each kiosk or node, and the metadata of a published dataset.

Perpres 39/2019 Ps. 6-8 (Standar Data: konsep, definisi, klasifikasi, ukuran, satuan), Ps. 9-10 (Metadata),
Ps. 11-12 (Kode Referensi: here the Kemendagri code of the desa/kecamatan, Permendagri 72/2019 style
``33.21.01.2001``), Ps. 1 angka 12-14 (Produsen Data, Walidata).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.vocabulary import UNIT_SYMBOLS
from sync.central import measures
from sync.central.backoffice import accounts
from sync.central.errors import CentralError
from sync.central.fleet import tables as fleet_tables
from sync.central.opendata import audit
from sync.central.opendata.tables import places

REGION_CODE_RE = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?\Z")  # provinsi[.kab[.kec[.desa]]]
_NODE_RE = re.compile(r"[a-z0-9-]{1,32}\Z")

UNITS = UNIT_SYMBOLS  # the unit suffix of a measurement name (DESIGN.md, the node frame) -> the unit's symbol


@dataclass(frozen=True)
class Standard:
    """The data standard of one measurement (Perpres 39/2019 Ps. 6): concept, definition, classification."""

    concept: str
    definition: str
    classification: str


MEASURE = "Banyaknya pengukuran, rata-rata, minimum, maksimum dan jumlah nilai per periode"
PERIODICITY = {"hour": "Per jam", "day": "Harian", "month": "Bulanan"}
LEGAL_BASIS = "Peraturan Presiden Nomor 39 Tahun 2019 tentang Satu Data Indonesia"


def unit_of(name: str) -> str:
    """The unit symbol of measurement ``name`` from its suffix (``water_cm`` -> ``cm``); "" when unknown."""
    return measures.unit_of(name)


def standard_of(name: str) -> Standard:
    """The data standard of ``name`` from the one table of measurements (:data:`measures.MEASURES`: its
    Indonesian label is the concept); a generic one for a measurement not in it."""
    known = measures.MEASURES.get(name)
    if known:
        return Standard(known.id, known.definition, known.classification)
    unit = unit_of(name)
    return Standard(
        name, f"Nilai {name} yang dikirim node sensor" + (f" dalam {unit}." if unit else "."), "Lainnya"
    )


def check_region_code(code: str) -> str:
    """``code`` when it is a Kemendagri region code (``33``, ``33.21``, ``33.21.01`` or ``33.21.01.2001``);
    raises :class:`CentralError` otherwise."""
    if not REGION_CODE_RE.match(code):
        raise CentralError(f"not a Kemendagri region code: {code!r} (e.g. 33.21.01 or 33.21.01.2001)")
    return code


def set_place(
    engine: Engine,
    gateway_id: str,
    node: str | None,
    *,
    region_code: str | None,
    producer: str | None,
    actor: str,
) -> bool:
    """Set the region code and/or producer of a kiosk (``node`` None) or of one of its nodes; audited. Answers
    whether the node has reported itself (True for a kiosk; False: set before the node's first report).

    The producer is a known OPD's code (accounts.check_opd; raises accounts.UnknownOpd otherwise). A node has
    one producer, the fleet's (``fleet_nodes.producer``, also set by ``fleet node --producer`` and the back
    office): a node's producer is written there; a kiosk's is the default of its nodes that have none. A node's
    own region code wins over its kiosk's. Raises :class:`CentralError` for a kiosk not registered at the
    central, a malformed code or node id. An empty ``producer`` clears it (the command line asks for
    ``--clear-producer`` to say so).
    """
    from sync.central.fleet import places as fleet_places

    if region_code is not None:
        check_region_code(region_code)
    if node is not None and not _NODE_RE.match(node):
        raise CentralError(f"not a node id: {node!r}")
    key = {"gateway_id": gateway_id, "node": node or ""}
    values = {k: v for k, v in (("region_code", region_code), ("producer", producer)) if v is not None}
    with engine.begin() as conn:
        try:
            fleet_places.check_gateway(conn, gateway_id)
        except fleet_places.PlaceError as err:
            raise CentralError(str(err)) from err
        heard = not node or fleet_places.heard_from(conn, gateway_id, node)
        if producer:  # "" clears it
            accounts.check_opd(conn, producer)
        own = dict(values)
        if node and producer is not None:  # the node's one producer is the fleet's
            _set_node_producer(conn, gateway_id, node, producer or None)
            own.pop("producer")
        where = (places.c.gateway_id == gateway_id, places.c.node == key["node"])
        if conn.execute(sa.select(places.c.node).where(*where)).first():
            if own:
                conn.execute(places.update().where(*where).values(**own))
        else:
            conn.execute(places.insert().values(**key, **own))
        target = f"{gateway_id}/{node}" if node else gateway_id
        audit.record(conn, actor, "set-place", target, values)
    return heard


def _set_node_producer(conn: Connection, gateway_id: str, node: str, producer: str | None) -> None:
    nodes = fleet_tables.nodes
    where = (nodes.c.gateway_id == gateway_id, nodes.c.node == node)
    if conn.execute(sa.select(nodes.c.node).where(*where)).first():
        conn.execute(nodes.update().where(*where).values(producer=producer))
    else:
        conn.execute(nodes.insert().values(gateway_id=gateway_id, node=node, producer=producer))


@dataclass(frozen=True)
class Place:
    """Where a node's data comes from, for Satu Data: region code (or None) and producer."""

    region_code: str | None
    producer: str


def place_lookup(conn: Connection, default_producer: str) -> Any:
    """A function ``(gateway_id, node) -> Place``: the node's own region code, else its kiosk's, else None; its
    producer, the name of its OPD (the node's own, ``fleet_nodes.producer``, else its kiosk's), else
    ``default_producer``."""
    rows = {(r.gateway_id, r.node): r for r in conn.execute(sa.select(places))}
    nodes = fleet_tables.nodes
    owners = {
        (r.gateway_id, r.node): r.producer
        for r in conn.execute(sa.select(nodes.c.gateway_id, nodes.c.node, nodes.c.producer))
        if r.producer
    }
    names = accounts.opd_names(conn)

    def lookup(gateway_id: str, node: str) -> Place:
        own, kiosk = rows.get((gateway_id, node)), rows.get((gateway_id, ""))
        code = (own and own.region_code) or (kiosk and kiosk.region_code) or None
        opd = owners.get((gateway_id, node)) or (own and own.producer) or (kiosk and kiosk.producer)
        return Place(code, names.get(opd, opd) if opd else default_producer)

    return lookup


SEPARATOR = "; "  # between the entries of a list-valued metadata key (a CKAN extra is one text)
KEYED = ("konsep", "definisi", "satuan")  # list keys whose entries are ``name: text``, one per measurement
_ENTRY_START = re.compile(r"; (?=[a-z0-9_]{1,32}: )")  # "; " that begins the next ``name: text`` entry


def split_entries(key: str, text: str) -> list[str]:
    """The entries of list-valued metadata ``key`` as :func:`dataset_metadata` joined them. An entry of a keyed
    list (:data:`KEYED`) starts with a measurement name and a colon, so a text holding "; " itself stays whole
    (``mains_v: Tegangan ... di lokasi; 0 V: padam.`` is one entry); the others split at every "; "."""
    pattern = _ENTRY_START if key in KEYED else re.compile(re.escape(SEPARATOR))
    return [part for part in pattern.split(text) if part]


def merge_entries(key: str, old: str, new: str) -> str:
    """List-valued metadata ``key``'s entries of ``old`` and ``new`` as one text, sorted: in a keyed list a
    measurement's new entry replaces its old one (its definition may have been corrected); in another, the
    union."""
    if key in KEYED:
        by_name = {e.split(": ", 1)[0]: e for e in split_entries(key, old)}
        by_name.update({e.split(": ", 1)[0]: e for e in split_entries(key, new)})
        return SEPARATOR.join(sorted(by_name.values()))
    return SEPARATOR.join(sorted(set(split_entries(key, old)) | set(split_entries(key, new))))


def dataset_metadata(
    rows: list[dict[str, Any]], period: str, walidata: str, title: str = "Data sensor anjungan"
) -> dict[str, Any]:
    """The Satu Data metadata of a dataset of aggregate rows (as :mod:`.aggregates` makes them).

    Keys: ``judul``, ``konsep``, ``definisi``, ``klasifikasi``, ``ukuran``, ``satuan``, ``produsen_data``,
    ``walidata``, ``periodisitas``, ``kode_referensi`` (every region code in the rows), ``dasar_hukum``; list
    values are sorted and joined by ``; `` so that a CKAN extra (text) holds them.
    """
    names = sorted({r["name"] for r in rows})

    def joined(values: set[str]) -> str:
        return SEPARATOR.join(sorted(v for v in values if v))

    return {
        "judul": title,
        "konsep": joined({f"{n}: {standard_of(n).concept}" for n in names}) or "Pengukuran sensor",
        "definisi": joined({f"{n}: {standard_of(n).definition}" for n in names})
        or "Agregat pengukuran node sensor anjungan per periode.",
        "klasifikasi": joined({standard_of(n).classification for n in names}) or "Lainnya",
        "ukuran": MEASURE,
        "satuan": joined({f"{n}: {unit_of(n)}" for n in names if unit_of(n)}),
        "produsen_data": joined({r["producer"] for r in rows}),
        "walidata": walidata,
        "periodisitas": PERIODICITY[period],
        "kode_referensi": joined({r["region_code"] for r in rows if r["region_code"]}),
        "dasar_hukum": LEGAL_BASIS,
    }
