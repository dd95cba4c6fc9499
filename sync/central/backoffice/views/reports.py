"""The service report: a page with charts, CSV and PDF."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from flask_babel import gettext as _

from sync.central import skm
from sync.central.app import central
from sync.central.backoffice import intake, reports
from sync.central.backoffice.errors import BackofficeError
from sync.central.backoffice.session import now_ms
from sync.central.backoffice.views import blueprint, requires

bp = blueprint("reports")


def _period() -> tuple[int, int | None]:
    today = intake.office_date(now_ms())
    year = request.args.get("tahun", today.year, type=int) or today.year
    month_text = request.args.get("bulan", "")
    month = int(month_text) if month_text.isdigit() else None
    if not 2000 <= year <= 2100 or (month is not None and not 1 <= month <= 12):
        raise BackofficeError(_("Tahun 2000-2100, bulan 1-12."))
    return year, month


def _figures() -> tuple[dict[str, Any], int, int | None]:
    intake.sync_cases(central().engine)
    year, month = _period()
    return reports.figures(central().engine, year, month), year, month


def _skm(year: int, month: int | None) -> dict[str, Any]:
    """The satisfaction index (docs/skm.md) for the month, the quarter ``?triwulan=1-4`` or the year."""
    quarter_text = request.args.get("triwulan", "")
    quarter = int(quarter_text) if quarter_text.isdigit() else None
    if quarter is not None and not 1 <= quarter <= 4:
        raise BackofficeError(_("Triwulan 1-4."))
    figures = skm.report(central().engine, year, month, None if month else quarter)
    return {**figures, "quarter": quarter, "chart": reports.skm_chart(figures),
            "labels": reports.skm_labels()}  # fmt: skip


def _words() -> dict[str, Any]:
    """The report's words for the codes in its figures, in the page's language."""
    return {"objection_labels": reports.objection_labels(), "decision_labels": reports.decision_labels(),
            "stage_labels": reports.stage_labels()}  # fmt: skip


@bp.get("/laporan")
@requires("reports")
def report() -> str:
    """The report for ?tahun=YYYY[&bulan=M] (default: this year) as a page with charts, and the satisfaction
    index (SKM) of the month, ``&triwulan=Q`` or the year beside its monthly trend."""
    figures, year, month = _figures()
    return render_template("backoffice/report.html", r=figures, year=year, month=month,
                           charts=reports.charts(figures), printable=False, skm=_skm(year, month),
                           **_words())  # fmt: skip


@bp.get("/laporan.csv")
@requires("reports")
def report_csv() -> Response:
    figures, year, month = _figures()
    name = f"laporan-ppid-{year}{f'-{month:02d}' if month else ''}.csv"
    return Response(reports.csv_text(figures, _skm(year, month)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})  # fmt: skip


@bp.get("/laporan.pdf")
@requires("reports")
def report_pdf() -> Response:
    """The same report as PDF (WeasyPrint): a print layout with the charts embedded."""
    figures, year, month = _figures()
    html = render_template("backoffice/report.html", r=figures, year=year, month=month,
                           charts=reports.charts(figures), printable=True, skm=_skm(year, month),
                           **_words())  # fmt: skip
    name = f"laporan-ppid-{year}{f'-{month:02d}' if month else ''}.pdf"
    return Response(reports.pdf(html), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={name}"})  # fmt: skip
