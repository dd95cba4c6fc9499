"""The changes feed (the downlink): content published for every gateway or one (DIP entries, documents,
announcements, submission statuses, configuration), each upsert or delete a change with a number handed out
in order, read by each gateway a page at a time after its cursor (docs/protocol.md, "Changes").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.vocabulary import CONTENT_KINDS, DIP_CATEGORIES, SUBMISSION_STATUSES
from sync.central import db
from sync.central.db import content
from sync.central.errors import CentralError
from sync.central.service.formats import SHA256_RE, json_text, now_ms

_CURSOR_RE = re.compile(r"c-([0-9]{1,18})\Z")


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
        "data": None if data is None else json_text(data),
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
    if kind == "dip" and data.get("document") is not None and not SHA256_RE.match(str(data["document"])):
        raise CentralError("a DIP entry's document is a sha256 or null")
    if kind in ("dip", "document", "announcement") and not str(data.get("title") or "").strip():
        raise CentralError(f"a {kind} needs a title")
    if kind == "submission" and data.get("status") not in SUBMISSION_STATUSES:
        raise CentralError("a submission's status is one of " + ", ".join(SUBMISSION_STATUSES))
    if kind == "config" and "value" not in data:
        raise CentralError("a config change carries a value")


def set_config(engine: Engine, gateway_id: str, key: str, value: Any) -> int:
    """A configuration value (``section.key``) for one gateway."""
    if not re.fullmatch(r"[a-z_]+\.[a-z_]+", key):
        raise CentralError(f"a config key is section.key, not {key!r}")
    return publish_content(engine, "config", key, {"value": value}, gateway_id=gateway_id)
