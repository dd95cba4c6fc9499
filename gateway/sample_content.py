"""Realistic sample public information for a kiosk that has not synced yet (``anjungan init --sample-content``).

The content has the shapes the central sends (see docs/protocol.md): DIP entries, documents, announcements.
"""

from __future__ import annotations

from typing import Any

SAMPLE_CHANGES: list[dict[str, Any]] = [
    {
        "kind": "announcement",
        "id": "sample-welcome",
        "op": "upsert",
        "data": {
            "title": "Selamat datang di Anjungan Informasi",
            "body": "Di sini Anda dapat membaca informasi publik, mengajukan permohonan informasi dan pengaduan.",
            "starts": None,
            "ends": None,
            "urgent": False,
        },
    },
]


def seed(store: Any, cfg: Any) -> int:
    """Apply the sample content through the same path as content from the central; returns the count."""
    current = store.get_meta("changes_cursor") or ""
    store.apply_changes(SAMPLE_CHANGES, current)
    return len(SAMPLE_CHANGES)
