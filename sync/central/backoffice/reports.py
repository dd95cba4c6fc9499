"""The PPID's service report for a month or a year (Perki 1/2021 Ps. 36-37: the annual report's figures):
requests received, answered on time and late, granted in full / in part / refused by Ps. 17 exemption,
objections and their outcomes, complaints by category and stage, and the average working days to answer."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy.engine import Engine

from gateway.vocabulary import CASE_STATUSES, CaseStatus, SkmElement, SkmService
from sync.central import skm
from sync.central.backoffice import calendar
from sync.central.backoffice.audit import csv_cell
from sync.central.backoffice.models import cases


def period(year: int, month: int | None) -> tuple[date, date]:
    """The first and last day of a month (or of the year when ``month`` is None)."""
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    last = date(year + (month == 12), month % 12 + 1, 1).toordinal() - 1
    return date(year, month, 1), date.fromordinal(last)


def figures(engine: Engine, year: int, month: int | None) -> dict[str, Any]:
    """The report's figures for the cases received in the period (every kiosk, every OPD)."""
    start, end = period(year, month)
    query = sa.select(cases.c.kind, cases.c.status, cases.c.category, cases.c.received_date, cases.c.answered_date,
                      cases.c.answer_due, cases.c.details).where(
        cases.c.received_date >= start.isoformat(), cases.c.received_date <= end.isoformat())  # fmt: skip
    with engine.connect() as conn:
        cal = calendar.load(conn)
        rows = conn.execute(query).mappings().all()
    requests = {"received": 0, "on_time": 0, "late": 0, "open": 0}
    decisions: Counter[str] = Counter()
    exemptions: Counter[str] = Counter()
    objections: Counter[str] = Counter()
    complaints: dict[str, Counter[str]] = {}
    answer_days: list[int] = []
    for row in rows:
        details = json.loads(row["details"] or "{}")
        if row["kind"] == "request":
            requests["received"] += 1
            if row["answered_date"] is None:
                requests["open"] += 1
                continue
            requests["on_time" if row["answered_date"] <= (row["answer_due"] or "9999") else "late"] += 1
            received, answered = (
                date.fromisoformat(row["received_date"]),
                date.fromisoformat(row["answered_date"]),
            )
            answer_days.append(cal.working_days_between(received, answered))
            answer = details.get("answer", {})
            decisions[answer.get("decision", "?")] += 1
            if answer.get("decision") in ("sebagian", "ditolak") and answer.get("exemption"):
                exemptions[f"Ps. 17 {answer['exemption']}"] += 1
        elif row["kind"] == "objection":
            objections["received"] += 1
            objections[details.get("decision", {}).get("decision", "belum diputus")] += 1
        else:
            complaints.setdefault(row["category"] or "lainnya", Counter())[row["status"]] += 1
    average = round(sum(answer_days) / len(answer_days), 1) if answer_days else None
    return {"start": start, "end": end, "requests": requests, "decisions": dict(decisions),
            "exemptions": dict(exemptions), "objections": dict(objections),
            "complaints": {k: dict(v) for k, v in sorted(complaints.items())}, "average_days": average}  # fmt: skip


def csv_text(report: dict[str, Any], skm_report: dict[str, Any] | None = None) -> str:
    """The figures as CSV rows ``section,item,value``; with ``skm_report`` (:func:`sync.central.skm.report`)
    also the satisfaction index: ``skm`` rows (respondents, index 25-100 to two decimals, mutu, each
    element's mean to two decimals), ``skm-kiosk`` and ``skm-service`` rows (index and mutu of each).

    The CSV is for machines (spreadsheets, scripts) whatever the officer's language: its keys are codes
    (``penuh``, ``u1``) and its numbers are written with a decimal point (``82.50``), never a comma
    (docs/skm.md, "The CSV")."""
    out = io.StringIO()
    writer = _SafeWriter(csv.writer(out))
    writer.writerow(["section", "item", "value"])
    writer.writerow(["period", "start", report["start"].isoformat()])
    writer.writerow(["period", "end", report["end"].isoformat()])
    for section in ("requests", "decisions", "exemptions", "objections"):
        for key, value in report[section].items():
            writer.writerow([section, key, value])
    for category, stages in report["complaints"].items():
        for stage, count in stages.items():
            writer.writerow(["complaints", f"{category}/{stage}", count])
    average = report["average_days"]
    writer.writerow(["requests", "average_working_days_to_answer", "" if average is None else average])
    if skm_report is not None:
        _skm_rows(writer, skm_report)
    return out.getvalue()


def _skm_rows(writer: Any, skm_report: dict[str, Any]) -> None:
    overall = skm_report["overall"]
    writer.writerow(["skm", "respondents", overall.responses if overall else 0])
    if overall is not None and overall.converted is not None:
        writer.writerow(["skm", "index", f"{overall.converted:.2f}"])
        writer.writerow(["skm", "mutu", overall.mutu])
        for element, mean in overall.element_means.items():
            writer.writerow(["skm", element, "" if mean is None else f"{mean:.2f}"])
    for section, results in (
        ("skm-kiosk", skm_report["by_gateway"]),
        ("skm-service", skm_report["by_service"]),
    ):
        for key, result in results.items():
            writer.writerow([section, key, f"{result.converted:.2f} {result.mutu}"])


class _SafeWriter:
    """A csv writer whose cells go through :func:`audit.csv_cell` (no formula injection: complaint categories
    and exemption names come from citizens' and officers' text)."""

    def __init__(self, writer: Any):
        self._writer = writer

    def writerow(self, row: list[Any]) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])


def decimal(value: float | None, places: int = 2) -> str:
    """``value`` with ``places`` decimals as the officer's language writes it (Babel's ``format_decimal`` with
    the page's locale): ``82,50`` in Bahasa Indonesia, ``82.50`` in English; ``—`` for None. The page and the
    PDF use it; the CSV keeps points (machine-readable, docs/skm.md)."""
    if value is None:
        return "—"
    return str(format_decimal(round(value, places), format="0." + "0" * places if places else "0"))


def decision_labels() -> dict[str, str]:
    """The report's words for an information request's decision (``figures()["decisions"]`` keys: the answer
    form's ``penuh``, ``sebagian``, ``ditolak``), in the page's language; an unknown one is shown as it is."""
    return {"penuh": _("Diberikan seluruhnya"), "sebagian": _("Diberikan sebagian"), "ditolak": _("Ditolak"),
            "?": _("tidak tercatat")}  # fmt: skip


def stage_labels() -> dict[str, str]:
    """The report's words for a case's stage (:data:`gateway.vocabulary.CASE_STATUSES`), in the page's language
    (the case pages' own words, backoffice/_labels.html)."""
    words = {
        CaseStatus.BARU: _("Baru"),
        CaseStatus.DIVERIFIKASI: _("Diverifikasi"),
        CaseStatus.DIDISPOSISI: _("Didisposisi"),
        CaseStatus.DITUNDA: _("Ditunda"),
        CaseStatus.DIJAWAB: _("Dijawab"),
        CaseStatus.DITOLAK: _("Ditolak"),
        CaseStatus.SELESAI: _("Selesai"),
    }
    return {str(status): words[CaseStatus(status)] for status in CASE_STATUSES}


def objection_labels() -> dict[str, str]:
    """The report's words for the objection figures (``figures()["objections"]`` keys), in the page's language."""
    return {"received": _("diterima"), "diterima": _("keberatan diterima"), "ditolak": _("keberatan ditolak"),
            "belum diputus": _("belum diputus")}  # fmt: skip


def charts(report: dict[str, Any]) -> dict[str, str]:
    """SVG charts (pygal) as data URIs: requests by outcome, decisions, complaints by category."""
    import pygal

    style = pygal.style.Style(background="white", plot_background="white", font_family="DejaVu Sans")
    made = {}
    empty = {"no_data_text": _("Tidak ada data")}
    bar = pygal.Bar(style=style, width=640, height=320, show_legend=False, **empty)
    bar.x_labels = [_("diterima"), _("tepat waktu"), _("terlambat"), _("belum dijawab")]
    req = report["requests"]
    bar.add(_("Permohonan informasi"), [req["received"], req["on_time"], req["late"], req["open"]])
    made["requests"] = bar
    pie = pygal.Pie(style=style, width=640, height=320, **empty)
    decisions = decision_labels()
    for decision, count in report["decisions"].items():
        pie.add(decisions.get(decision, decision), count)
    made["decisions"] = pie
    stacked = pygal.StackedBar(style=style, width=640, height=320, x_label_rotation=30, **empty)
    categories = list(report["complaints"])
    stacked.x_labels = categories
    stages = stage_labels()
    for stage in CASE_STATUSES:
        stacked.add(stages.get(stage, stage), [report["complaints"][c].get(stage, 0) for c in categories])
    made["complaints"] = stacked
    return {name: "data:image/svg+xml;base64," + base64.b64encode(chart.render()).decode() for name, chart in
            made.items()}  # fmt: skip


def skm_labels() -> dict[str, Any]:
    """The words of the satisfaction index's part of the report: the nine elements (PermenPANRB 14/2017,
    Lampiran), the services rated at a kiosk, the quality categories; in the page's language."""
    return {
        "elements": {
            SkmElement.U1: _("Persyaratan"),
            SkmElement.U2: _("Sistem, mekanisme dan prosedur"),
            SkmElement.U3: _("Waktu penyelesaian"),
            SkmElement.U4: _("Biaya/tarif"),
            SkmElement.U5: _("Produk spesifikasi jenis pelayanan"),
            SkmElement.U6: _("Kompetensi pelaksana"),
            SkmElement.U7: _("Perilaku pelaksana"),
            SkmElement.U8: _("Penanganan pengaduan, saran dan masukan"),
            SkmElement.U9: _("Sarana dan prasarana"),
        },
        "services": {
            SkmService.REQUEST: _("Permohonan informasi"),
            SkmService.COMPLAINT: _("Pengaduan"),
            SkmService.OBJECTION: _("Keberatan"),
            SkmService.STATUS_CHECK: _("Cek status"),
        },
        "kinerja": {"A": _("Sangat Baik"), "B": _("Baik"), "C": _("Kurang Baik"), "D": _("Tidak Baik")},
    }


def skm_chart(skm_report: dict[str, Any]) -> str:
    """The index's monthly trend over the report's year (25-100, the category bands' lower bounds drawn as
    reference lines) as an SVG data URI (pygal)."""
    import pygal

    style = pygal.style.Style(background="white", plot_background="white", font_family="DejaVu Sans")
    chart = pygal.Line(style=style, width=640, height=320, range=(25, 100), include_x_axis=False,
                       no_data_text=_("Tidak ada data"), allow_interruptions=True)  # fmt: skip
    chart.x_labels = [str(m) for m in range(1, 13)]
    chart.value_formatter = decimal  # the tooltips, in the page's language
    chart.add(_("Indeks SKM"), [None if r is None else round(r.converted, 2) for r in skm_report["months"]])
    for lowest, mutu, _kinerja in skm.CATEGORIES[:3]:
        chart.add(mutu, [float(lowest)] * 12, show_dots=False, stroke_style={"dasharray": "4, 4"})
    return "data:image/svg+xml;base64," + base64.b64encode(chart.render()).decode()


def pdf(html: str) -> bytes:
    """The report page rendered as PDF by WeasyPrint (system fonts; only data: URLs are fetched)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    return bytes(HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf())
