"""Publishing to the kiosks through the central's downlink (service.publish_content / publish_document):
DIP entries (UU 14/2008 Ps. 9-11 and 17; Perki 1/2021's DIP columns), documents (PDF, stored by sha256) and
announcements (with a start, an end and a serta-merta flag), for every kiosk or chosen ones. Edits are upserts
of the same item; a withdrawal is a delete that flows down as well. Every change is audited."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.central import service
from sync.central.backoffice import audit, uploads
from sync.central.backoffice.errors import BackofficeError, NotFoundError
from sync.central.db import content

KINDS = ("dip", "document", "announcement")
_ITEM_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}\Z")


def published(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """What is published now, per kind: ``{"scope", "item_id", "data", "version"}`` (scope "" = every kiosk)."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    query = sa.select(content).where(content.c.kind.in_(KINDS), content.c.op == "upsert").order_by(
        content.c.kind, content.c.item_id, content.c.scope)  # fmt: skip
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            out[row["kind"]].append({"scope": row["scope"], "item_id": row["item_id"], "version": row["version"],
                                     "data": json.loads(row["data"])})  # fmt: skip
    return out


def item(engine: Engine, kind: str, item_id: str, scope: str) -> dict[str, Any]:
    """One published item's data; NotFoundError when it is not (or no longer) published there."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(content.c.data).where(
            content.c.kind == kind, content.c.item_id == item_id, content.c.scope == scope,
            content.c.op == "upsert")).first()  # fmt: skip
    if row is None:
        raise NotFoundError(f"nothing published as {kind} {item_id}")
    return dict(json.loads(row[0]))


def _scopes(gateways: list[str]) -> list[str | None]:
    return list(gateways) or [None]


def _check_id(item_id: str) -> str:
    item_id = item_id.strip().lower()
    if not _ITEM_RE.match(item_id):
        raise BackofficeError("a code is lower-case letters, digits and '-' (at most 100)")
    return item_id


def publish(engine: Engine, actor: audit.Actor, kind: str, item_id: str, data: dict[str, Any], gateways: list[str],
            now_ms: int) -> None:  # fmt: skip
    """Publish (or edit) a DIP entry or an announcement for every kiosk (``gateways`` empty) or the chosen ones."""
    item_id = _check_id(item_id)
    for scope in _scopes(gateways):
        before = _current(engine, kind, item_id, scope or "")
        service.publish_content(engine, kind, item_id, data, gateway_id=scope)
        with engine.begin() as conn:
            audit.record(
                conn, actor, f"publish-{kind}", f"{kind}:{item_id}@{scope or '*'}", now_ms, before, data
            )


def publish_pdf(engine: Engine, files_dir: Path, actor: audit.Actor, title: str, filename: str, data: bytes,
                gateways: list[str], now_ms: int) -> str:  # fmt: skip
    """Store a PDF by sha256 and announce it to the kiosks; answer the sha256. BackofficeError if not a PDF."""
    uploads.check_pdf(data)
    sha256 = ""
    for scope in _scopes(gateways):
        sha256 = service.publish_document(
            engine, files_dir, data, title=title, filename=filename, gateway_id=scope
        )
        with engine.begin() as conn:
            audit.record(conn, actor, "publish-document", f"document:{sha256}@{scope or '*'}", now_ms, None,
                         {"title": title, "filename": filename, "size": len(data)})  # fmt: skip
    return sha256


def withdraw(engine: Engine, actor: audit.Actor, kind: str, item_id: str, scope: str, now_ms: int) -> None:
    """Withdraw a published item (the kiosks delete it too); NotFoundError when it is not published there."""
    before = item(engine, kind, item_id, scope)
    service.publish_content(engine, kind, item_id, None, gateway_id=scope or None, delete=True)
    with engine.begin() as conn:
        audit.record(
            conn, actor, f"withdraw-{kind}", f"{kind}:{item_id}@{scope or '*'}", now_ms, before, None
        )


def known(engine: Engine, kind: str, item_id: str, scope: str = "") -> bool:
    """Whether the central ever published ``kind`` ``item_id`` there (scope "" = every kiosk), including an item
    edited or withdrawn since."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(content.c.version).where(
            content.c.kind == kind, content.c.item_id == item_id, content.c.scope == scope)).first()  # fmt: skip
    return row is not None


def publish_new(engine: Engine, files_dir: Path, actor: audit.Actor, changes: Sequence[Mapping[str, Any]],
                files: Mapping[str, bytes], now_ms: int) -> Iterator[tuple[str, str, bool]]:  # fmt: skip
    """Publish for every kiosk each item of ``changes`` that the central never published (:func:`known`), in
    order; yield ``(kind, item_id, published)`` per item (``published`` False: left as it is).

    ``changes`` have the changes feed's shape (docs/protocol.md): ``{"kind", "id", "op": "upsert", "data"}`` of
    kind dip, document or announcement; a document's PDF is ``files[id]`` (its sha256). Publishing the same
    changes again adds nothing, and never brings back an item an officer edited or withdrew meanwhile. Each
    publication is audited under ``actor``. Raises BackofficeError for a document whose bytes are missing,
    are not a PDF or do not match its sha256, and CentralError for content the downlink refuses.
    """
    for change in changes:
        kind, item_id, data = str(change["kind"]), str(change["id"]), dict(change["data"])
        if kind not in KINDS or change.get("op", "upsert") != "upsert":
            raise BackofficeError(f"only upserts of {', '.join(KINDS)} are published, not {kind} {item_id}")
        if known(engine, kind, item_id):
            yield kind, item_id, False
            continue
        if kind == "document":
            if item_id not in files:
                raise BackofficeError(f"the document {item_id} has no file")
            sha256 = publish_pdf(engine, files_dir, actor, str(data.get("title") or ""),
                                 str(data.get("filename") or item_id), files[item_id], [], now_ms)  # fmt: skip
            if sha256 != item_id:
                raise BackofficeError(f"the document {item_id}'s file has the sha256 {sha256}")
        else:
            publish(engine, actor, kind, item_id, data, [], now_ms)
        yield kind, item_id, True


def _current(engine: Engine, kind: str, item_id: str, scope: str) -> dict[str, Any] | None:
    try:
        return item(engine, kind, item_id, scope)
    except NotFoundError:
        return None
