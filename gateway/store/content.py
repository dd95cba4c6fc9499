"""What the central sends down (docs/sync.md "Downlink"): content (announcements, documents, services, the
configuration the central sets), the status changes of this kiosk's submissions, and the changes' cursor."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import to_json

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _attachments(value: Any) -> list[dict[str, Any]]:
    """The well-formed entries of an answer's attachment list from the central (``{"name", "sha256",
    "size"}``); anything else is left out, so that a bad entry never names a file path."""
    out = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        sha256, size = item.get("sha256"), item.get("size")
        if isinstance(sha256, str) and _SHA256_RE.fullmatch(sha256) and isinstance(size, int) and size >= 0:
            out.append({"name": str(item.get("name") or sha256[:12])[:200], "sha256": sha256, "size": size})
    return out


class ContentMixin(StoreBase):
    """The downlink's queries of :class:`~gateway.store.Store`."""

    def apply_changes(self, changes: list[Mapping[str, Any]], cursor: str) -> int:
        """Apply one page of changes and store the new cursor, in one transaction; applying twice is harmless."""
        now = db.now_ms()
        with db.transaction(self.conn, "applying changes from the central"):
            for change in changes:
                kind, key, op = change["kind"], str(change["id"]), change.get("op", "upsert")
                data = change.get("data") or {}
                if kind == "submission":
                    documents = data.get("attachments")
                    self.conn.execute(
                        "UPDATE submissions SET status = coalesce(?, status), answer = coalesce(?, answer), "
                        "answered_at = coalesce(?, answered_at), due_date = coalesce(?, due_date), "
                        "due_kind = coalesce(?, due_kind), attachments = coalesce(?, attachments), "
                        "updated_at = ? WHERE number = ?",
                        (data.get("status"), data.get("answer"), data.get("answered_at"), data.get("due_date"),
                         data.get("due_kind"), None if documents is None else to_json(_attachments(documents)),
                         now, key),
                    )  # fmt: skip
                elif op == "delete":
                    self.conn.execute("DELETE FROM content WHERE kind = ? AND id = ?", (kind, key))
                else:
                    self.conn.execute(
                        "INSERT INTO content (kind, id, data, updated_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                        (kind, key, to_json(data), now),
                    )
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('changes_cursor', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (cursor,),
            )
        return len(changes)

    def content(self, kind: str) -> list[dict[str, Any]]:
        """Every item of content of ``kind`` (by id): its data with ``id`` and ``updated_at`` (ms)."""
        rows = self.reader.execute(
            "SELECT id, data, updated_at FROM content WHERE kind = ? ORDER BY id", (kind,)
        )
        return [{"id": i, **json.loads(d), "updated_at": u} for i, d, u in rows]

    def content_item(self, kind: str, key: str) -> dict[str, Any] | None:
        """One item of content (its data with ``id``), None when there is none."""
        row = self.reader.execute(
            "SELECT data FROM content WHERE kind = ? AND id = ?", (kind, key)
        ).fetchone()
        return {"id": key, **json.loads(row[0])} if row else None

    def content_version(self) -> tuple[int, int]:
        """(count, newest updated_at) of the content table: changes whenever the central's content does."""
        count, newest = self.reader.execute(
            "SELECT count(*), coalesce(max(updated_at), 0) FROM content"
        ).fetchone()
        return int(count), int(newest)

    def config_overrides(self) -> dict[str, dict[str, Any]]:
        """Configuration the central set for this gateway: ``{section: {key: value}}`` (last applied wins)."""
        out: dict[str, dict[str, Any]] = {}
        for key, data in self.reader.execute(
            "SELECT id, data FROM content WHERE kind = 'config' ORDER BY id"
        ):
            section, _, name = key.partition(".")
            value = json.loads(data)
            if section and name and isinstance(value, dict) and "value" in value:
                out.setdefault(section, {})[name] = value["value"]
        return out
