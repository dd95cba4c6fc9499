"""The words of alerts, in Bahasa Indonesia first and English, for notifications (the back office's pages use
Flask-Babel's catalogue for the same titles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TITLES: dict[str, tuple[str, str]] = {
    "kiosk-silent": ("Anjungan {gw} tidak menghubungi pusat", "Kiosk {gw} has not contacted the central"),
    "node-silent": ("Node {node} di {gw} diam", "Node {node} at {gw} is silent"),
    "node-reboots": ("Node {node} di {gw} berulang kali mulai ulang", "Node {node} at {gw} keeps rebooting"),
    "power": ("Listrik PLN padam di {gw} (node {node})", "Mains power lost at {gw} (node {node})"),
    "water": ("Tinggi muka air di atas ambang di {gw} (node {node})", "Water level above threshold at {gw} "
              "(node {node})"),
    "rain": ("Hujan lebat di {gw} (node {node})", "Heavy rain at {gw} (node {node})"),
    "store-full": ("Penyimpanan anjungan {gw} hampir penuh", "The store of kiosk {gw} is nearly full"),
    "clock": ("Jam anjungan {gw} belum tepat", "The clock of kiosk {gw} is not known good"),
    "dead-letters": ("Ada rekaman ditolak yang menunggu di {gw}", "Refused records waiting at {gw}"),
}  # fmt: skip


def title(kind: str, gateway_id: str, node: str | None, detail: dict[str, Any], lang: str) -> str:
    """The alert's one-line title in ``lang`` (``id`` or ``en``)."""
    pair = TITLES.get(kind, (kind + " {gw}", kind + " {gw}"))
    return pair[0 if lang == "id" else 1].format(gw=gateway_id, node=node or "-")


def iso(ms: int | None) -> str:
    """``ms`` as ISO 8601 UTC to the second, "-" for None."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mail_body(doc: dict[str, Any]) -> str:
    """The plain-text body of an alert's e-mail: Bahasa Indonesia, then English."""
    alert = doc["alert"]
    state = {"opened": ("TERBUKA", "OPEN"), "resolved": ("SELESAI", "RESOLVED")}[doc["event"]]
    detail = ", ".join(f"{k}={v}" for k, v in sorted(alert["detail"].items()))
    return (
        f"{alert['title_id']}\n"
        f"Status: {state[0]}\nMulai: {iso(alert['started_ms'])}\nSelesai: {iso(alert['resolved_ms'])}\n"
        f"Rincian: {detail}\n\n"
        f"{alert['title_en']}\n"
        f"State: {state[1]}\nStarted: {iso(alert['started_ms'])}\nResolved: {iso(alert['resolved_ms'])}\n"
        f"Detail: {detail}\n\n"
        f"#{alert['id']} {alert['key']}\n"
    )
