"""Gateways and their credentials: registering, rotating and revoking a gateway's secret (sealed with the
master key, every change audited in ``gateway_audit``), reading the current secret on each request, and what
each gateway last reported (its contact, backlog and files, for the overview).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync import protocol
from sync.central import db, sealing
from sync.central.db import gateway_audit, gateways, stream_state
from sync.central.errors import CentralError
from sync.central.service.formats import iso_utc, now_ms

_GATEWAY_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")


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
