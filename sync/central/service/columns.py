"""A batch's records as the columns of their stream's table, and inserting them in one statement (on
PostgreSQL the columns travel as array literals and are unnested: the ingest's hot path, bench/central.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.vocabulary import SKM_ELEMENTS, Stream
from sync import protocol
from sync.central.service.formats import json_text
from sync.protocol.validation import sms_opt_in


def stream_columns(gateway_id: str, batch: protocol.Batch) -> dict[str, list[Any]]:
    """The batch's rows as one list per column of its table (checked records only)."""
    if batch.stream == "readings":
        readings = batch.reading_columns()
        assert readings is not None  # checked: every record has the reading shape
        columns = _reading_columns(readings)
    else:
        columns = _COLUMN_BUILDERS[batch.stream](batch.records)
    return {"gateway_id": [gateway_id] * len(columns["seq"]), **columns}


_PG_TYPES = {
    sa.BigInteger: "bigint",
    sa.SmallInteger: "smallint",
    sa.String: "text",
    sa.Text: "text",
    sa.Float: "float8",
    sa.Boolean: "boolean",
}


def _pg_type(column: sa.Column) -> str:
    for kind, name in _PG_TYPES.items():
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"no array type for {column.type!r}")


def _pg_array(values: list[Any], kind: str) -> str:
    """A column as the text of a PostgreSQL array literal, built by joins (psycopg adapts a list element by
    element in Python, which costs more than PostgreSQL's whole insert)."""
    if kind == "text":
        quoted = {v: "NULL" if v is None else _pg_quote(v) for v in set(values)}
        text = ",".join(map(quoted.__getitem__, values))
    elif kind == "float8":  # repr: the shortest text that reads back as the same double
        text = ",".join(map(repr, values))
    elif None in values:  # bigint or boolean; "None" never occurs in an int's or a bool's text
        text = ",".join(map(str, values)).replace("None", "NULL")
    else:
        text = ",".join(map(str, values))
    return "{" + text + "}"


def _pg_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def insert_columns(conn: Connection, table: sa.Table, columns: dict[str, list[Any]]) -> int:
    """Insert rows given as columns, skipping those whose key is already stored; answer how many were new."""
    if not columns["gateway_id"]:
        return 0
    names = [column.name for column in table.columns]
    quoted = ", ".join(f'"{n}"' for n in names)
    if conn.dialect.name == "postgresql":  # one statement per batch: the columns as arrays, unnested
        types = [_pg_type(table.c[n]) for n in names]
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        statement = (
            f"INSERT INTO {table.name} ({quoted}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING"
        )
        literals = tuple(_pg_array(columns[n], kind) for n, kind in zip(names, types, strict=True))
        return conn.exec_driver_sql(statement, literals).rowcount
    statement = (
        f"INSERT INTO {table.name} ({quoted}) VALUES ({', '.join('?' * len(names))}) ON CONFLICT DO NOTHING"
    )
    return conn.exec_driver_sql(statement, list(zip(*[columns[n] for n in names], strict=True))).rowcount


def _time_columns(at: list[int], offset: list[int | None]) -> dict[str, list[Any]]:
    return {
        "at_ms": at,
        "offset_ms": offset,
        "true_ms": [None if o is None else a + o for a, o in zip(at, offset, strict=True)],
        "clock_ok": [o is not None for o in offset],
    }


def _record_time_columns(records: list[dict]) -> dict[str, list[Any]]:
    return _time_columns([r["at"] for r in records], [r["offset"] for r in records])


def _reading_columns(readings: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        "seq": readings["seq"],
        "node": readings["node"],
        "boot": readings["boot"],
        "q": readings["q"],
        "name": readings["name"],
        "value": list(map(float, readings["value"])),
        **_time_columns(readings["at"], readings["offset"]),
    }


def _event_columns(records: list[dict]) -> dict[str, list[Any]]:
    return {
        "seq": [r["seq"] for r in records],
        "node": [r["node"] for r in records],
        "kind": [r["kind"] for r in records],
        "data": [json_text(r["data"]) for r in records],
        **_record_time_columns(records),
    }


def _submission_columns(records: list[dict]) -> dict[str, list[Any]]:
    return {
        "seq": [r["seq"] for r in records],
        "uuid": [r["uuid"] for r in records],
        "number": [r["number"] for r in records],
        "kind": [r["kind"] for r in records],
        "due_date": [r["due_date"] for r in records],
        "public": [json_text(r["public"]) for r in records],
        "personal": [
            None if r["personal"] is None or _anonymous(r) else json_text(r["personal"]) for r in records
        ],
        **_record_time_columns(records),
        "access_hash": [r.get("access") for r in records],
        "notify_sms": [
            sms_opt_in(r.get("sms")) and not _anonymous(r) and r["personal"] is not None for r in records
        ],
    }


def _anonymous(record: Mapping[str, Any]) -> bool:
    """An anonymous complaint (``public.anonim`` true): its identity is never stored, whatever a faulty
    gateway sends beside it (SP4N-LAPOR!: anonim hides the reporter from everyone, officers included)."""
    public = record.get("public")
    return isinstance(public, Mapping) and bool(public.get("anonim"))


def _rating_columns(records: list[dict]) -> dict[str, list[Any]]:
    """A ratings batch as columns: the rating's uuid, service and day, and one column per survey element
    (null when skipped). Nothing else a record might carry is kept (docs/skm.md: anonymous)."""
    return {
        "seq": [r["seq"] for r in records],
        "uuid": [r["uuid"] for r in records],
        "service": [r["service"] for r in records],
        "day": [r["day"] for r in records],
        **{element: [r["ratings"].get(element) for r in records] for element in SKM_ELEMENTS},
    }


_COLUMN_BUILDERS: dict[str, Callable[[list[dict]], dict[str, list[Any]]]] = {
    Stream.EVENTS: _event_columns,
    Stream.SUBMISSIONS: _submission_columns,
    Stream.RATINGS: _rating_columns,
}
