"""Frictionless Data Packages (``datapackage.json``, Data Package v1 / Table Schema) of aggregate exports,
carrying the Satu Data metadata (Perpres 39/2019) as the package's ``satudata`` property.

:data:`SCHEMA` is the one description of an aggregate row: the CSV/JSON exports, the data package and the CKAN
DataStore fields (:func:`ckan_fields`) all follow it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.central import measures
from sync.central.opendata import aggregates, satudata

LICENSES = {  # SPDX id -> (title, path)
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": (
        "Open Data Commons Open Database License 1.0",
        "https://opendatacommons.org/licenses/odbl/1-0/",
    ),
}
_FIELD_TEXT = {  # name -> (type, title, description)
    "node": ("string", "Node", "Id node sensor (unik di kabupaten)."),
    "name": ("string", "Pengukuran", "Nama pengukuran; akhirannya menyatakan satuan (water_cm: cm)."),
    "period": ("string", "Periode", "hour (jam), day (hari) atau month (bulan)."),
    "period_start": ("datetime", "Awal periode", "Awal periode dalam UTC (ISO 8601)."),
    "gateway": ("string", "Anjungan", "Id anjungan (gateway) yang mengirim pengukuran."),
    "region_code": ("string", "Kode wilayah", "Kode wilayah Kemendagri desa/kecamatan (kode referensi)."),
    "producer": ("string", "Produsen data", "Perangkat daerah (OPD) pemilik node."),
    "unit": ("string", "Satuan", "Satuan nilai."),
    "count": ("integer", "Banyaknya", "Banyaknya pengukuran dalam periode."),
    "mean": ("number", "Rata-rata", "Rata-rata nilai dalam periode."),
    "min": ("number", "Minimum", "Nilai terkecil dalam periode."),
    "max": ("number", "Maksimum", "Nilai terbesar dalam periode."),
    "sum": ("number", "Jumlah", "Jumlah nilai dalam periode (untuk curah hujan: total)."),
}
_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "node": {"required": True},
    "name": {"required": True},
    "period": {"required": True, "enum": list(aggregates.PERIODS)},
    "period_start": {"required": True},
    "region_code": {"pattern": satudata.REGION_CODE_RE.pattern.removesuffix(r"\Z")},
    "count": {"required": True, "minimum": 1},
}
SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": name, "type": kind, "title": title, "description": text,
         **({"constraints": _CONSTRAINTS[name]} if name in _CONSTRAINTS else {})}
        for name, (kind, title, text) in _FIELD_TEXT.items()
    ],
    "primaryKey": list(aggregates.PRIMARY_KEY),
    "missingValues": [""],
}  # fmt: skip
TITLE_NAMES = 3  # measurements named in a package's title; more are counted
_CKAN_TYPES = {"string": "text", "datetime": "timestamp", "integer": "int8", "number": "float8"}


def ckan_fields() -> list[dict[str, Any]]:
    """The DataStore ``fields`` of :data:`SCHEMA` (id, PostgreSQL type, data-dictionary info)."""
    return [
        {
            "id": f["name"],
            "type": _CKAN_TYPES[f["type"]],
            "info": {"label": f["title"], "notes": f["description"]},
        }
        for f in SCHEMA["fields"]
    ]


def license_of(spdx: str) -> dict[str, str]:
    """A Data Package licence object for SPDX id ``spdx`` (an unknown id is given by name only)."""
    title, path = LICENSES.get(spdx, (spdx, ""))
    return {"name": spdx, "title": title, **({"path": path} if path else {})}


def title(rows: list[dict[str, Any]], period: str, judul: str = "Data sensor anjungan") -> str:
    """The human-readable title of a package of ``rows``: ``judul``, the labels of its measurements with their
    units (:func:`measures.label`, Bahasa Indonesia; at most :data:`TITLE_NAMES`, the rest counted) and the
    periodicity, e.g. ``Data sensor anjungan: Curah hujan (mm), Tinggi muka air (cm) (per jam)``."""
    labels = sorted({measures.label(r["name"]) for r in rows})
    what = ", ".join(labels[:TITLE_NAMES])
    if len(labels) > TITLE_NAMES:
        what += f" dan {len(labels) - TITLE_NAMES} pengukuran lain"
    when = satudata.PERIODICITY[period].lower()
    return f"{judul}: {what} ({when})" if labels else f"{judul} ({when})"


def description(rows: list[dict[str, Any]], fallback: str) -> str:
    """The human-readable description of a package of ``rows``: each measurement's label and unit with its
    Satu Data definition (``Tinggi muka air (cm): Tinggi permukaan air ...``); ``fallback`` when empty."""
    names = sorted({r["name"] for r in rows})
    return " ".join(f"{measures.label(n)}: {satudata.standard_of(n).definition}" for n in names) or fallback


def descriptor(
    rows: list[dict[str, Any]], period: str, fmt: str, path: str, *, walidata: str, license: str
) -> dict[str, Any]:
    """The ``datapackage.json`` of one export of ``rows`` written to ``path`` (relative) as ``fmt``: the title
    and description name the measurements by their labels (:func:`title`, :func:`description`); the data's
    columns and the Satu Data metadata keep the measurement names."""
    meta = satudata.dataset_metadata(rows, period, walidata)
    resource: dict[str, Any] = {
        "name": f"agregat-{period}",
        "path": path,
        "profile": "tabular-data-resource",
        "format": fmt,
        "mediatype": "text/csv" if fmt == "csv" else "application/json",
        "encoding": "utf-8",
        "schema": SCHEMA,
    }
    return {
        "profile": "tabular-data-package",
        "name": f"anjungan-sensor-{period}",
        "title": title(rows, period, meta["judul"]),
        "description": description(rows, meta["definisi"]),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "keywords": ["satu data", "sensor", *sorted({r["name"] for r in rows})],
        "licenses": [license_of(license)],
        "contributors": [{"title": meta["walidata"], "role": "publisher"}]
        + [{"title": p, "role": "author"} for p in sorted({r["producer"] for r in rows})],
        "satudata": meta,
        "resources": [resource],
    }


def _cell(value: Any) -> Any:
    return "" if value is None else value


def csv_text(rows: list[dict[str, Any]]) -> str:
    """``rows`` as CSV (header of :data:`aggregates.FIELDS`, RFC 4180 line ends; empty cell = null)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(aggregates.FIELDS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k]) for k in aggregates.FIELDS})
    return out.getvalue()


def json_text(rows: list[dict[str, Any]]) -> str:
    """``rows`` as a JSON array of objects (null for a missing value)."""
    return json.dumps([{k: row[k] for k in aggregates.FIELDS} for row in rows], ensure_ascii=False, indent=1)


def write_package(
    directory: Path, rows: list[dict[str, Any]], period: str, fmt: str, *, walidata: str, license: str
) -> Path:
    """Write the data file and its ``datapackage.json`` into ``directory``; answer the descriptor's path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"agregat-{period}.{fmt}"
    (directory / name).write_text(csv_text(rows) if fmt == "csv" else json_text(rows), encoding="utf-8")
    package = descriptor(rows, period, fmt, name, walidata=walidata, license=license)
    target = directory / "datapackage.json"
    target.write_text(json.dumps(package, ensure_ascii=False, indent=1), encoding="utf-8")
    return target
