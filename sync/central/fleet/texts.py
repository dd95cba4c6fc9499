"""The words of alerts, in Bahasa Indonesia first and English: titles, and the details of an alert as people
read them (a measurement by its label and unit from :mod:`sync.central.measures`, the other keys by
:data:`DETAILS`), for the alerts page and the e-mails; the webhook's JSON keeps the keys themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sync.central import measures, numbers
from sync.central.fleet import settings

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


# the keys of an alert's detail that are not measurement names (rules.py) -> (Bahasa Indonesia, English)
DETAILS: dict[str, tuple[str, str]] = {
    "limit_cm": ("Ambang (cm)", "Threshold (cm)"),
    "limit_mm": ("Ambang (mm)", "Threshold (mm)"),
    "mains_min_v": ("Batas tegangan padam (V)", "Mains-lost voltage (V)"),
    "cause": ("Sebab", "Cause"),
    "kiosks": ("Anjungan terdampak", "Kiosks affected"),
    "last_seen_ms": ("Terakhir terdengar", "Last heard"),
    "sync_s": ("Interval sinkronisasi (detik)", "Sync interval (s)"),
    "interval_s": ("Interval (detik)", "Interval (s)"),
    "reboots_24h": ("Mulai ulang dalam 24 jam", "Reboots in 24 hours"),
    "count": ("Jumlah", "Count"),
    "store_b": ("Penyimpanan (bita)", "Store (bytes)"),
    "budget_b": ("Batas penyimpanan (bita)", "Store budget (bytes)"),
    "disk_free_b": ("Disk bebas (bita)", "Free disk (bytes)"),
    "disk_total_b": ("Disk total (bita)", "Disk size (bytes)"),
    "since_ms": ("Dihitung sejak", "Summed since"),
}  # fmt: skip
# a measurement an alert sums over its window rather than reads (rules.py ``rain``: ``rain_mm`` since ``since_ms``)
SUMMED: dict[str, tuple[str, str]] = {"rain_mm": ("Curah hujan terkumpul (mm)", "Rain collected (mm)")}
# the words after a measurement's label for its value when the alert resolved (alerts.AT_RESOLUTION)
RESOLVED_WORDS = ("saat selesai", "when resolved")
# the words after a measurement's label for its extreme over an alert's episode (alerts.PEAKS)
PEAK_WORDS: dict[str, tuple[str, str]] = {"min": ("terendah", "lowest"), "max": ("tertinggi", "highest")}
LOWEST = ("mains_v",)
CAUSES: dict[str, tuple[str, str]] = {
    "no-answer": ("node listrik tidak menjawab", "the power node does not answer"),
    "no-mains": ("tegangan 0 V atau di bawah batas", "0 V or below the limit"),
}
# "no-mains" in words once the voltage read is known: none at all, or some below the limit
NO_MAINS = {True: ("listrik padam: tegangan 0 V", "power cut: 0 V"),
            False: ("tegangan di bawah batas padam", "voltage below the power-cut limit")}  # fmt: skip


def detail_items(detail: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """An alert's ``detail`` as ``(label, value)`` pairs in ``lang`` (``id`` or ``en``), sorted by key: a
    measurement name by :func:`measures.label`, another key by :data:`DETAILS` (else as it is); a time in ms in
    the regency's local time (:func:`local_time`), a list joined by commas, a cause in words, the episode's extreme of
    a figure (``peak``, :data:`alerts.PEAKS`) after it (``Tinggi muka air (cm), tertinggi``), a resolved alert's
    figure as it was when it resolved (``resolved``: ``Tegangan listrik (V), saat selesai``), rain summed over
    the alert's window named so (:data:`SUMMED`, with ``since_ms``), a number as the
    language writes it at the measurement's precision (``3,91`` in Bahasa Indonesia: :mod:`sync.central.numbers`),
    None as "-"."""
    pick = 0 if lang != "en" else 1
    words = "en" if pick else "id"
    found, done = detail.get("peak"), detail.get("resolved")
    peak: dict[str, Any] = found if isinstance(found, dict) else {}
    resolved: dict[str, Any] = done if isinstance(done, dict) else {}
    out = []
    for key, value in sorted(detail.items()):
        if key in ("peak", "resolved"):
            continue
        if key in DETAILS:
            name = DETAILS[key][pick]
        elif key in SUMMED and "since_ms" in detail:
            name = SUMMED[key][pick]
        else:
            name = measures.label(key, words)
        volts = detail.get("mains_v")
        if key == "cause" and value == "no-mains" and isinstance(volts, int | float):
            out.append((name, NO_MAINS[volts <= 0][pick]))
            continue
        if key in resolved:  # resolved: its value then, not the one of the last evaluation while it held
            out.append((f"{name}, {RESOLVED_WORDS[pick]}", _text(key, resolved[key], words, pick)))
        else:
            out.append((name, _text(key, value, words, pick)))
        if key in peak:  # the extreme of the episode, after the figure of the last evaluation
            extreme = PEAK_WORDS["min" if key in LOWEST else "max"][pick]
            out.append((f"{name}, {extreme}", _text(key, peak[key], words, pick)))
    return out


def _text(key: str, value: Any, words: str, pick: int) -> str:
    if value is None:
        return "-"
    if key.endswith("_ms") and isinstance(value, int):
        return local_time(value)
    if key == "cause" and value in CAUSES:
        return CAUSES[value][pick]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return numbers.measured(value, key, words)
    return str(value)


def iso(ms: int | None) -> str:
    """``ms`` as ISO 8601 UTC to the second, "-" for None."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ZONES = {7: "WIB", 8: "WITA", 9: "WIT"}  # Indonesia's zones by their offset from UTC in hours


def local_time(ms: int) -> str:
    """An instant (Unix ms) as the regency's local time, as the back office shows every time of the fleet:
    ``2026-11-30 16:06:05 WIB`` (WIB/WITA/WIT for UTC+7/8/9, else ``UTC+h``)."""
    offset_ms = settings.utc_offset_ms()
    hours = offset_ms // 3_600_000
    zone = _ZONES.get(hours, f"UTC{hours:+d}")
    return datetime.fromtimestamp((ms + offset_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S ") + zone


def mail_body(doc: dict[str, Any]) -> str:
    """The plain-text body of an alert's e-mail: Bahasa Indonesia, then English."""
    alert = doc["alert"]
    state = {"opened": ("TERBUKA", "OPEN"), "resolved": ("SELESAI", "RESOLVED")}[doc["event"]]
    rincian, detail = (
        "; ".join(f"{k}: {v}" for k, v in detail_items(alert["detail"], lang)) for lang in ("id", "en")
    )
    return (
        f"{alert['title_id']}\n"
        f"Status: {state[0]}\nMulai: {iso(alert['started_ms'])}\nSelesai: {iso(alert['resolved_ms'])}\n"
        f"Rincian: {rincian}\n\n"
        f"{alert['title_en']}\n"
        f"State: {state[1]}\nStarted: {iso(alert['started_ms'])}\nResolved: {iso(alert['resolved_ms'])}\n"
        f"Detail: {detail}\n\n"
        f"#{alert['id']} {alert['key']}\n"
    )
