"""What the central does, independent of HTTP: gateways, storing batches, downstream content, exports."""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from gateway import private, regno
from gateway.errors import AnjunganError
from gateway.vocabulary import CONTENT_KINDS, DIP_CATEGORIES, DUE_KINDS, SUBMISSION_STATUSES
from sync import protocol
from sync.central import db, sealing
from sync.central.db import (
    STREAM_TABLES,
    content,
    gateway_audit,
    gateways,
    identities,
    stream_state,
    submissions,
)
from sync.central.fleet import ingest as fleet_ingest

_GATEWAY_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")
_CURSOR_RE = re.compile(r"c-([0-9]{1,18})\Z")
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_WALK_PAGE = 5000


class CentralError(AnjunganError):
    """Something the central was asked to do cannot be done; the message says why."""


class RecordsRejected(CentralError):
    """Some records of a batch cannot be stored; nothing of the batch was stored (answered with 422)."""

    def __init__(self, stream: str, rejected: list[dict[str, Any]]):
        super().__init__(f"{len(rejected)} record(s) of {stream} rejected")
        self.stream = stream
        self.rejected = rejected


class Unavailable(AnjunganError):
    """The central cannot do it now (answered 503 with Retry-After); ``reason`` is one of ``db.BUSY``,
    ``db.DISK_FULL``, ``db.UNAVAILABLE``: a word the gateway shows as it is."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    text = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# --- gateways ----------------------------------------------------------------------------------------------


def gateway_id_for(name: str) -> str:
    """A lower-case id from a gateway's name: the name itself when it already is one, else a slug of it."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:64].strip("-")
    if not _GATEWAY_ID_RE.match(slug):
        raise CentralError(f"cannot make a gateway id from {name!r}: use letters, digits and '-'")
    return slug


def add_gateway(engine: Engine, master_key: bytes, name: str) -> dict[str, str]:
    """Register a gateway; answer ``{"gateway_id", "secret"}`` (the secret is shown this once)."""
    gateway_id = gateway_id_for(name)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if conn.execute(sa.select(gateways.c.id).where(gateways.c.id == gateway_id)).first():
            raise CentralError(f"a gateway {gateway_id!r} already exists")
        conn.execute(
            gateways.insert().values(
                id=gateway_id,
                name=name,
                secret_sealed=sealing.seal(master_key, secret),
                created_ms=now_ms(),
            )
        )
        for stream in protocol.STREAMS:
            conn.execute(
                stream_state.insert().values(gateway_id=gateway_id, stream=stream, acked=0, stored=0)
            )
        _audit(conn, gateway_id, "added", name)
    return {"gateway_id": gateway_id, "secret": secret}


def gateway_secret(engine: Engine, master_key: bytes, gateway_id: str) -> str | None:
    """The current secret of a gateway, or None when the id is unknown or the gateway was removed."""
    with db.reading(engine) as conn:
        sealed = conn.execute(
            sa.select(gateways.c.secret_sealed).where(
                gateways.c.id == gateway_id, gateways.c.removed_ms.is_(None)
            )
        ).scalar()
    return None if sealed is None else _unseal_cached(master_key, sealed)


_UNSEALED: dict[tuple[bytes, str], str] = {}


def _unseal_cached(master_key: bytes, sealed: str) -> str:
    """Unseal, remembering the result by the sealed text itself: a rotated secret is a new sealed text, so
    this cache can never answer an old secret (the database is still read on every request)."""
    key = (master_key, sealed)
    secret = _UNSEALED.get(key)
    if secret is None:
        secret = sealing.unseal(master_key, sealed)
        if len(_UNSEALED) > 10_000:
            _UNSEALED.clear()
        _UNSEALED[key] = secret
    return secret


def rotate_secret(engine: Engine, master_key: bytes, gateway_id: str) -> dict[str, str]:
    """Issue a new secret to a gateway; answer ``{"gateway_id", "secret"}`` (shown this once).

    The old secret is refused from the next request on, in every worker process (secrets are read per
    request). Audited in ``gateway_audit``. Raises CentralError for an unknown or removed gateway.
    """
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        _active_gateway(conn, gateway_id)
        conn.execute(
            gateways.update()
            .where(gateways.c.id == gateway_id)
            .values(secret_sealed=sealing.seal(master_key, secret))
        )
        _audit(conn, gateway_id, "secret-rotated")
    return {"gateway_id": gateway_id, "secret": secret}


def remove_gateway(engine: Engine, gateway_id: str) -> None:
    """Revoke a gateway: from the next request on it is answered 401, in every worker process.

    What it sent stays (exports still name it); its row stays too, marked removed, so that its id is never
    issued again and the audit keeps its meaning. Raises CentralError for an unknown or removed gateway.
    """
    with engine.begin() as conn:
        _active_gateway(conn, gateway_id)
        conn.execute(gateways.update().where(gateways.c.id == gateway_id).values(removed_ms=now_ms()))
        _audit(conn, gateway_id, "removed")


def audit_log(engine: Engine, gateway_id: str | None = None) -> list[dict[str, Any]]:
    """The credentials audit, oldest first: ``{"gateway_id", "action", "at", "actor", "detail"}``."""
    query = sa.select(gateway_audit).order_by(gateway_audit.c.id)
    if gateway_id is not None:
        query = query.where(gateway_audit.c.gateway_id == gateway_id)
    with db.reading(engine) as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {"gateway_id": r["gateway_id"], "action": r["action"], "at": iso_utc(r["at_ms"]), "actor": r["actor"],
         "detail": r["detail"]}
        for r in rows
    ]  # fmt: skip


def _active_gateway(conn: Connection, gateway_id: str) -> None:
    row = conn.execute(sa.select(gateways.c.removed_ms).where(gateways.c.id == gateway_id)).first()
    if row is None:
        raise CentralError(f"no gateway {gateway_id!r}")
    if row[0] is not None:
        raise CentralError(f"the gateway {gateway_id!r} was removed on {iso_utc(row[0])}")


def _audit(conn: Connection, gateway_id: str, action: str, detail: str | None = None) -> None:
    try:
        actor = getpass.getuser()
    except (KeyError, OSError):
        actor = f"uid {os.getuid()}"
    conn.execute(
        gateway_audit.insert().values(
            gateway_id=gateway_id, action=action, at_ms=now_ms(), actor=actor, detail=detail
        )
    )


def touch_gateway(
    conn: Connection,
    gateway_id: str,
    at_ms: int,
    batch: bool = False,
    backlog: dict[str, int] | None = None,
    files: dict[str, int] | None = None,
) -> None:
    values: dict[str, Any] = {"last_seen_ms": at_ms, **({"last_batch_ms": at_ms} if batch else {})}
    if backlog is not None:
        values.update(backlog=json.dumps(backlog), backlog_ms=at_ms)
    if files is not None:
        values.update(files_report=json.dumps(files))
    conn.execute(gateways.update().where(gateways.c.id == gateway_id).values(**values))


def overview(engine: Engine) -> list[dict[str, Any]]:
    """Every gateway with its last contact, last batch and per-stream acked seq (for the index page)."""
    with db.reading(engine) as conn:
        rows = conn.execute(sa.select(gateways).order_by(gateways.c.id)).mappings().all()
        states = conn.execute(sa.select(stream_state)).mappings().all()
    acked: dict[str, dict[str, int]] = {}
    for state in states:
        acked.setdefault(state["gateway_id"], {})[state["stream"]] = state["acked"]
    return [
        {
            "gateway_id": row["id"],
            "name": row["name"],
            "last_seen": iso_utc(row["last_seen_ms"]),
            "last_batch": iso_utc(row["last_batch_ms"]),
            "acked": {stream: acked.get(row["id"], {}).get(stream, 0) for stream in protocol.STREAMS},
            "backlog": json.loads(row["backlog"]) if row["backlog"] else None,
            "backlog_at": iso_utc(row["backlog_ms"]),
            "files": json.loads(row["files_report"]) if row["files_report"] else None,
            "removed": iso_utc(row["removed_ms"]),
        }
        for row in rows
    ]


# --- batches -----------------------------------------------------------------------------------------------


def store_batch(engine: Engine, gateway_id: str, batch: protocol.Batch, at_ms: int | None = None) -> dict:
    """Store a batch at most once per (gateway, stream, seq) and answer ``{"stream", "acked"}`` after commit.

    Raises :class:`RecordsRejected` (nothing stored) when any record is malformed.
    """
    rejected = protocol.batch_problems(batch)
    if rejected:
        raise RecordsRejected(batch.stream, rejected)
    table = STREAM_TABLES[batch.stream]
    columns = _stream_columns(gateway_id, batch)
    seqs = columns["seq"]
    top, low = max(seqs, default=0), min(seqs, default=0)
    contiguous = bool(seqs) and len(seqs) == top - low + 1  # seqs are distinct: no gap in [low, top]
    at_ms = at_ms or now_ms()
    with engine.begin() as conn:
        acked = _lock_state(conn, gateway_id, batch.stream)
        refused = _reused_seqs(conn, gateway_id, batch.stream, columns)
        refused.update(_foreign_identities(conn, gateway_id, batch.stream, columns, at_ms))
        if refused:  # rolls back: nothing of the batch is stored
            raise RecordsRejected(batch.stream, [{"seq": k, "reason": v} for k, v in sorted(refused.items())])
        stored = _insert_columns(conn, table, columns)
        if batch.after is not None and batch.after <= acked < top:
            acked = top  # every seq in (after, top] missing from the batch is gone for good
        elif contiguous and low <= acked + 1 <= top:
            acked = top  # the batch itself fills (acked, top]
        acked = _walk(conn, table, gateway_id, acked, top)
        conn.execute(
            stream_state.update()
            .where(stream_state.c.gateway_id == gateway_id, stream_state.c.stream == batch.stream)
            .values(acked=acked, stored=stream_state.c.stored + stored)
        )
        fleet_ingest.batch_stored(conn, gateway_id, batch, acked)
        touch_gateway(conn, gateway_id, at_ms, batch=True)
    return {"stream": batch.stream, "acked": acked}


def number_prefix(number: str) -> str:
    """The kiosk prefix of a registration number (``DMK-WONOSALAM-261128-00074`` -> ``dmk-wonosalam``), read by
    :func:`gateway.regno.parse` from its canonical form (``protocol.batch_problems`` refuses any other, so
    that no variant spelling of a number escapes the ownership check). Raises InvalidNumber."""
    return regno.parse(regno.canonical(number)).gateway


def _identities(stream: str, columns: dict[str, list[Any]]) -> list[tuple[int, str, str]]:
    """(seq, kind, value) of every identity a batch's records carry, one per distinct (kind, value) and seq."""
    seqs = columns["seq"]
    if stream == "submissions":
        out = [(s, "number-prefix", number_prefix(n)) for s, n in zip(seqs, columns["number"], strict=True)]
        return out + [(s, "uuid", u) for s, u in zip(seqs, columns["uuid"], strict=True)]
    nodes = columns["node"]
    if stream == "readings":  # one check per node, whatever the number of readings
        first: dict[str, list[int]] = {}
        for seq, node in zip(seqs, nodes, strict=True):
            first.setdefault(node, []).append(seq)
        return [(s, "node", node) for node, found in first.items() for s in found]
    return [(s, "node", n) for s, n in zip(seqs, nodes, strict=True) if n is not None]


def _reused_seqs(
    conn: Connection, gateway_id: str, stream: str, columns: dict[str, list[Any]]
) -> dict[int, str]:
    """Seq -> reason for each submission of the batch whose seq the central already holds under another uuid.

    A kiosk whose store was replaced (an SD card swapped, the same credentials) numbers its submissions from 1
    again. Were such a seq stored ``ON CONFLICT DO NOTHING`` and acknowledged, the kiosk would purge the new
    citizen's personal data although the central holds someone else's submission under that seq. Refused
    instead (422), so the kiosk keeps the submission as a dead letter with its personal data. Only submissions
    carry a uuid that tells two records of one seq apart; a resent submission (same uuid) is not refused.
    """
    if stream != "submissions":
        return {}
    sent = dict(zip(columns["seq"], columns["uuid"], strict=True))
    refused: dict[int, str] = {}
    seqs = sorted(sent)
    for start in range(0, len(seqs), 500):
        rows = conn.execute(
            sa.select(submissions.c.seq, submissions.c.uuid).where(
                submissions.c.gateway_id == gateway_id, submissions.c.seq.in_(seqs[start : start + 500])
            )
        )
        for seq, uuid in rows:
            if uuid != sent[seq]:
                refused[seq] = (
                    f"seq {seq} was already used by another submission: was this kiosk's store replaced? "
                    'Its submissions are kept at the kiosk as dead letters (docs/sync.md, "A replaced store")'
                )
    return refused


def _foreign_identities(
    conn: Connection, gateway_id: str, stream: str, columns: dict[str, list[Any]], at_ms: int
) -> dict[int, str]:
    """Claim the batch's identities for the sender; answer seq -> reason for each record carrying an identity
    that another gateway owns (issue: a gateway speaks only for itself)."""
    carried = _identities(stream, columns)
    wanted = {(kind, value) for _seq, kind, value in carried}
    if not wanted:
        return {}
    owners = _owners(conn, wanted)
    unclaimed = wanted - owners.keys()
    if unclaimed:
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        insert = dialect_insert(identities)
        conn.execute(
            insert.on_conflict_do_nothing(),
            [
                {"kind": k, "value": v, "gateway_id": gateway_id, "claimed_ms": at_ms}
                for k, v in sorted(unclaimed)
            ],
        )
        owners.update(_owners(conn, unclaimed))  # a concurrent claim by another gateway may have won
    refused: dict[int, str] = {}
    for seq, kind, value in carried:
        owner = owners.get((kind, value), gateway_id)
        if owner != gateway_id and seq not in refused:
            refused[seq] = f"the {_KIND_WORDS[kind]} {value!r} belongs to another gateway"
    return refused


_KIND_WORDS = {"node": "node", "uuid": "submission uuid", "number-prefix": "registration number prefix"}


def _owners(conn: Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    owners: dict[tuple[str, str], str] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in wanted:
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        for start in range(0, len(values), 500):
            rows = conn.execute(
                sa.select(identities.c.value, identities.c.gateway_id).where(
                    identities.c.kind == kind, identities.c.value.in_(values[start : start + 500])
                )
            )
            owners.update({(kind, value): owner for value, owner in rows})
    return owners


def _stream_columns(gateway_id: str, batch: protocol.Batch) -> dict[str, list[Any]]:
    """The batch's rows as one list per column of its table (checked records only)."""
    if batch.stream == "readings":
        readings = batch.reading_columns()
        assert readings is not None  # checked: every record has the reading shape
        columns = _reading_columns(readings)
    else:
        columns = _COLUMN_BUILDERS[batch.stream](batch.records)
    return {"gateway_id": [gateway_id] * len(columns["seq"]), **columns}


def _lock_state(conn: Connection, gateway_id: str, stream: str) -> int:
    """The stream's acked seq, its row locked until commit (one batch per gateway and stream at a time)."""
    query = (
        sa.select(stream_state.c.acked)
        .where(stream_state.c.gateway_id == gateway_id, stream_state.c.stream == stream)
        .with_for_update()
    )
    acked = conn.execute(query).scalar()
    if acked is None:
        conn.execute(stream_state.insert().values(gateway_id=gateway_id, stream=stream, acked=0, stored=0))
        acked = conn.execute(query).scalar_one()
    return int(acked)


def _walk(conn: Connection, table: sa.Table, gateway_id: str, acked: int, top: int) -> int:
    """The highest seq above ``acked`` reached with no gap (``top``: the batch's highest seq, a likely answer)."""
    if top > acked:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.gateway_id == gateway_id, table.c.seq > acked, table.c.seq <= top)
        ).scalar_one()
        if count == top - acked:
            acked = top
    while True:
        seqs = (
            conn.execute(
                sa.select(table.c.seq)
                .where(table.c.gateway_id == gateway_id, table.c.seq > acked)
                .order_by(table.c.seq)
                .limit(_WALK_PAGE)
            )
            .scalars()
            .all()
        )
        for seq in seqs:
            if seq != acked + 1:
                return acked
            acked = seq
        if len(seqs) < _WALK_PAGE:
            return acked


_PG_TYPES = {
    sa.BigInteger: "bigint",
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


def _insert_columns(conn: Connection, table: sa.Table, columns: dict[str, list[Any]]) -> int:
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
        "data": [_json(r["data"]) for r in records],
        **_record_time_columns(records),
    }


def _submission_columns(records: list[dict]) -> dict[str, list[Any]]:
    return {
        "seq": [r["seq"] for r in records],
        "uuid": [r["uuid"] for r in records],
        "number": [r["number"] for r in records],
        "kind": [r["kind"] for r in records],
        "due_date": [r["due_date"] for r in records],
        "public": [_json(r["public"]) for r in records],
        "personal": [
            None if r["personal"] is None or _anonymous(r) else _json(r["personal"]) for r in records
        ],
        **_record_time_columns(records),
        "access_hash": [r.get("access") for r in records],
    }


def _anonymous(record: Mapping[str, Any]) -> bool:
    """An anonymous complaint (``public.anonim`` true): its identity is never stored, whatever a faulty
    gateway sends beside it (SP4N-LAPOR!: anonim hides the reporter from everyone, officers included)."""
    public = record.get("public")
    return isinstance(public, Mapping) and bool(public.get("anonim"))


_COLUMN_BUILDERS = {
    "events": _event_columns,
    "submissions": _submission_columns,
}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# --- downstream content ------------------------------------------------------------------------------------


def format_cursor(version: int) -> str:
    return f"c-{version:06d}"


def parse_cursor(cursor: str | None) -> int:
    """The change number behind a cursor; no cursor (or an empty one) means from the beginning."""
    if not cursor:
        return 0
    match = _CURSOR_RE.match(cursor)
    if not match:
        raise CentralError(f"not a cursor: {cursor!r}")
    return int(match.group(1))


def changes_since(engine: Engine, gateway_id: str, cursor: str | None, limit: int = 500) -> dict[str, Any]:
    """One page of the changes for a gateway after ``cursor``: ``{"cursor", "changes", "more"}``."""
    since = parse_cursor(cursor)
    with db.reading(engine) as conn:
        rows = (
            conn.execute(
                sa.select(content)
                .where(content.c.scope.in_(["", gateway_id]), content.c.version > since)
                .order_by(content.c.version)
                .limit(limit + 1)
            )
            .mappings()
            .all()
        )
    page = rows[:limit]
    changes = [
        {
            "kind": row["kind"],
            "id": row["item_id"],
            "op": row["op"],
            "data": json.loads(row["data"]) if row["data"] else {},
        }
        for row in page
    ]
    last = page[-1]["version"] if page else since
    return {"cursor": format_cursor(last), "changes": changes, "more": len(rows) > limit}


def publish_content(
    engine: Engine,
    kind: str,
    item_id: str,
    data: Mapping[str, Any] | None,
    *,
    gateway_id: str | None = None,
    delete: bool = False,
) -> int:
    """Upsert (or delete) one item for every gateway (``gateway_id`` None) or one; answer its change number."""
    if kind not in CONTENT_KINDS:
        raise CentralError(f"unknown content kind {kind!r}")
    if not item_id or len(item_id) > 128:
        raise CentralError("an item id is 1 to 128 characters")
    if not delete:
        _check_content(kind, data or {})
    with engine.begin() as conn:
        return _record_change(conn, gateway_id or "", kind, item_id, None if delete else dict(data or {}))


def _record_change(conn: Connection, scope: str, kind: str, item_id: str, data: dict | None) -> int:
    if conn.dialect.name == "postgresql":  # change numbers are handed out, and committed, in order
        conn.execute(sa.text("LOCK TABLE content IN SHARE ROW EXCLUSIVE MODE"))
    version = (
        int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(content.c.version), 0))).scalar_one()) + 1
    )
    values = {
        "version": version,
        "op": "delete" if data is None else "upsert",
        "data": None if data is None else _json(data),
        "changed_ms": now_ms(),
    }
    key = (content.c.scope == scope, content.c.kind == kind, content.c.item_id == item_id)
    if conn.execute(sa.select(content.c.version).where(*key)).first():
        conn.execute(content.update().where(*key).values(**values))
    else:
        conn.execute(content.insert().values(scope=scope, kind=kind, item_id=item_id, **values))
    return version


def _check_content(kind: str, data: Mapping[str, Any]) -> None:
    if kind == "dip" and data.get("category") not in DIP_CATEGORIES:
        raise CentralError("a DIP entry's category is one of " + ", ".join(DIP_CATEGORIES))
    if kind == "dip" and data.get("document") is not None and not _SHA256_RE.match(str(data["document"])):
        raise CentralError("a DIP entry's document is a sha256 or null")
    if kind in ("dip", "document", "announcement") and not str(data.get("title") or "").strip():
        raise CentralError(f"a {kind} needs a title")
    if kind == "submission" and data.get("status") not in SUBMISSION_STATUSES:
        raise CentralError("a submission's status is one of " + ", ".join(SUBMISSION_STATUSES))
    if kind == "config" and "value" not in data:
        raise CentralError("a config change carries a value")


def set_submission_status(
    engine: Engine,
    gateway_id: str,
    number: str,
    status: str,
    *,
    answer: str | None = None,
    answered_at: str | None = None,
    due_date: str | None = None,
    due_kind: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> int:
    """An officer's decision on a citizen's submission, sent down to the gateway that took it.

    ``due_date`` is the current deadline (ISO date) and ``due_kind`` what it is the deadline of (one of
    :data:`DUE_KINDS`: the answer, a complaint's verification or follow-up, the day a complaint closes by
    itself, or "none" when no deadline runs, e.g. a deferred complaint); without ``due_kind`` a missing
    ``due_date`` falls back to the one the kiosk computed.
    ``attachments``: the answer's documents ``{"name", "sha256", "size"}``, whose bytes are in the files
    folder (:func:`store_file`) and reach the kiosk through ``/api/v1/files/<sha256>``.
    Raises CentralError for an unknown submission or a malformed value.
    """
    with db.reading(engine) as conn:
        known = conn.execute(
            sa.select(submissions.c.due_date)
            .where(submissions.c.gateway_id == gateway_id, submissions.c.number == number)
            .limit(1)
        ).first()
    if known is None:
        raise CentralError(f"no submission {number!r} from gateway {gateway_id!r}")
    if status == "answered" and answered_at is None:
        answered_at = iso_utc(now_ms())
    if due_kind is not None and due_kind not in DUE_KINDS:
        raise CentralError("a due date's kind is one of " + ", ".join(DUE_KINDS))
    data: dict[str, Any] = {"status": status, "answer": answer, "answered_at": answered_at,
                            "due_date": due_date if due_kind else due_date or known[0]}  # fmt: skip
    if due_kind is not None:
        data["due_kind"] = due_kind
    if attachments is not None:
        data["attachments"] = [_attachment(a) for a in attachments]
    return publish_content(engine, "submission", number, data, gateway_id=gateway_id)


def _attachment(item: Mapping[str, Any]) -> dict[str, Any]:
    sha256, size = str(item.get("sha256") or ""), item.get("size")
    if not _SHA256_RE.match(sha256) or not isinstance(size, int) or size < 0:
        raise CentralError("an attachment is {name, sha256, size}")
    return {"name": str(item.get("name") or sha256[:12])[:200], "sha256": sha256, "size": size}


def set_config(engine: Engine, gateway_id: str, key: str, value: Any) -> int:
    """A configuration value (``section.key``) for one gateway."""
    if not re.fullmatch(r"[a-z_]+\.[a-z_]+", key):
        raise CentralError(f"a config key is section.key, not {key!r}")
    return publish_content(engine, "config", key, {"value": value}, gateway_id=gateway_id)


def status_lookup(engine: Engine, number: str, code: str | None) -> dict[str, Any] | None:
    """What a kiosk may show about submission ``number``: None when unknown; its status only without the
    right code; with it, also the due date and the officer's answer. Never personal data.
    """
    with db.reading(engine) as conn:  # a read: a snapshot, never the write lock
        row = conn.execute(
            sa.select(submissions.c.gateway_id, submissions.c.kind, submissions.c.due_date,
                      submissions.c.access_hash, submissions.c.at_ms, submissions.c.true_ms, submissions.c.clock_ok)
            .where(submissions.c.number == number).order_by(submissions.c.seq).limit(1)
        ).first()  # fmt: skip
        if row is None:
            return None
        data = conn.execute(
            sa.select(content.c.data).where(
                content.c.scope == row.gateway_id, content.c.kind == "submission", content.c.item_id == number,
                content.c.op == "upsert",
            )
        ).scalar()  # fmt: skip
    status = json.loads(data) if data else {}
    out: dict[str, Any] = {"number": number, "status": status.get("status", "received"), "full": False}
    if protocol.code_matches(number, code, row.access_hash):
        out.update(
            full=True,
            kind=row.kind,
            submitted_at=iso_utc(row.true_ms if row.clock_ok else row.at_ms),
            due_date=status.get("due_date") or row.due_date,
            due_kind=status.get("due_kind"),
            answer=status.get("answer"),
            answered_at=status.get("answered_at"),
        )
    return out


# --- files -------------------------------------------------------------------------------------------------


def file_path(files_dir: Path, sha256: str) -> Path | None:
    """Where a stored file lives, or None when the sha256 is malformed or unknown."""
    if not _SHA256_RE.match(sha256):
        return None
    path = files_dir / sha256[:2] / sha256
    return path if path.is_file() else None


def store_file(files_dir: Path, data: bytes) -> str:
    """Store bytes content-addressed under ``files_dir``, durably (fsync, then rename); answer the sha256.

    Raises CentralError when the folder cannot be written (the document is then not announced).
    """
    sha256 = hashlib.sha256(data).hexdigest()
    target = files_dir / sha256[:2] / sha256
    if target.exists():
        return sha256
    temporary = target.with_suffix(f".{secrets.token_hex(4)}.tmp")
    try:
        private.ensure_dir(files_dir)  # 0700 and files 0600 whatever the umask: documents may be confidential
        private.ensure_dir(target.parent)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private.FILE_MODE)
        os.fchmod(descriptor, private.FILE_MODE)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as err:
        temporary.unlink(missing_ok=True) if temporary.parent.is_dir() else None
        if err.errno == errno.ENOSPC:
            raise Unavailable(db.DISK_FULL, f"no space left for documents in {files_dir}") from err
        raise CentralError(f"cannot store documents in {files_dir}: {err.strerror or err}") from err
    return sha256


def publish_document(
    engine: Engine,
    files_dir: Path,
    data: bytes,
    *,
    title: str,
    filename: str,
    mime: str = "application/pdf",
    gateway_id: str | None = None,
) -> str:
    """Store a document's bytes content-addressed and announce it; answer its sha256."""
    sha256 = store_file(files_dir, data)
    meta = {"title": title, "sha256": sha256, "size": len(data), "mime": mime, "filename": filename}
    publish_content(engine, "document", sha256, meta, gateway_id=gateway_id)
    return sha256


# --- exports -----------------------------------------------------------------------------------------------


@contextmanager
def _exporting(engine: Engine) -> Iterator[Connection]:
    """A read snapshot for an export: never the write lock (SQLite), no statement timeout (PostgreSQL, where
    rows are fetched from a server-side cursor a page at a time, however slowly the output is read)."""
    with db.reading(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        yield conn


def export_readings(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every stored reading as ``{"gateway", "node", "boot", "seq", "name", "value", "received_at"}``.

    ``seq`` is the node frame's q; ``received_at`` is the corrected time when known, else the gateway's.
    Streams: rows are fetched a page at a time in one read snapshot (memory does not grow with the table, and
    gateways' batches are stored meanwhile).
    """
    table = STREAM_TABLES["readings"]
    query = sa.select(table).order_by(table.c.gateway_id, table.c.seq)
    with _exporting(engine) as conn:
        for row in conn.execution_options(yield_per=5000).execute(query).mappings():
            yield {
                "gateway": row["gateway_id"],
                "node": row["node"],
                "boot": row["boot"],
                "seq": row["q"],
                "name": row["name"],
                "value": row["value"],
                "received_at": iso_utc(row["true_ms"] if row["clock_ok"] else row["at_ms"]),
            }


def export_submissions(engine: Engine, include_personal: bool = False) -> Iterator[dict[str, Any]]:
    """Every submission with its current status; personal data only when asked for. Streams like
    :func:`export_readings` (each submission's status is joined in, not held in memory)."""
    status = content.alias("status")
    query = (
        sa.select(submissions, status.c.data.label("status_data"))
        .select_from(
            submissions.outerjoin(
                status,
                sa.and_(
                    status.c.scope == submissions.c.gateway_id,
                    status.c.kind == "submission",
                    status.c.item_id == submissions.c.number,
                    status.c.op == "upsert",
                ),
            )
        )
        .order_by(submissions.c.gateway_id, submissions.c.seq)
    )
    with _exporting(engine) as conn:
        for sub in conn.execution_options(yield_per=2000).execute(query).mappings():
            state = json.loads(sub["status_data"]) if sub["status_data"] else {}
            out = {
                "gateway": sub["gateway_id"],
                "seq": sub["seq"],
                "uuid": sub["uuid"],
                "number": sub["number"],
                "kind": sub["kind"],
                "submitted_at": iso_utc(sub["true_ms"] if sub["clock_ok"] else sub["at_ms"]),
                "due_date": state.get("due_date") or sub["due_date"],
                "status": state.get("status", "received"),
                "answer": state.get("answer"),
                "public": json.loads(sub["public"]),
            }
            if include_personal:
                out["personal"] = None if sub["personal"] is None else json.loads(sub["personal"])
            yield out
