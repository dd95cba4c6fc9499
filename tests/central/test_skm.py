"""The Survei Kepuasan Masyarakat index (PermenPANRB 14/2017; docs/skm.md): the formula against a worked
example computed by hand, the quality categories at their bounds, ratings arriving over the sync API, and the
back office's report."""

from __future__ import annotations

import base64
import csv
import html
import io
import re

import pypdfium2
import pytest
import sqlalchemy as sa
from flask import Flask

from sync.central import skm
from sync.central.db import skm_ratings
from tests.central.conftest import Gateway, central_of
from tests.central.officers import FULL_ANSWER, citizen, logged_in
from tests.central.test_backoffice_cases import AT, REQ, step

# Four questionnaires (U1..U9; None = skipped at the kiosk)
WORKED = [
    (4, 4, 4, 4, 4, 4, 4, 4, 4),
    (3, 3, 3, 4, 3, 3, 4, 3, 3),
    (3, 2, 3, 4, 3, 3, 3, 2, 3),
    (2, 3, 2, None, 3, 3, 4, 3, None),
]
# By hand: NRR per element = sum / ratings given
#   U1 12/4 = 3.00  U2 12/4 = 3.00  U3 12/4 = 3.00  U4 12/3 = 4.00  U5 13/4 = 3.25
#   U6 13/4 = 3.25  U7 15/4 = 3.75  U8 12/4 = 3.00  U9 10/3 = 3.333...
#   Σ NRR = 29.5833...; index = Σ NRR × 1/9 = 3.28704; × 25 = 82.18 -> B (Baik: 76.61-88.30)
EXPECTED_MEANS = {"u1": 3.0, "u2": 3.0, "u3": 3.0, "u4": 4.0, "u5": 3.25, "u6": 3.25, "u7": 3.75, "u8": 3.0,
                  "u9": 10 / 3}  # fmt: skip


def test_the_worked_example() -> None:
    result = skm.compute(WORKED)
    assert result.responses == 4
    assert result.element_means == pytest.approx(EXPECTED_MEANS)
    assert (
        result.element_counts["u4"] == 3
        and result.element_counts["u9"] == 3
        and result.element_counts["u1"] == 4
    )
    assert result.index == pytest.approx(3.287037, abs=1e-6)
    assert result.converted == pytest.approx(82.175926, abs=1e-6)
    assert (result.mutu, result.kinerja) == ("B", "Baik")
    assert result.element_categories["u4"] == "A" and result.element_categories["u7"] == "A"  # 100, 93.75
    assert result.element_categories["u5"] == "B" and result.element_categories["u1"] == "C"  # 81.25, 75


@pytest.mark.parametrize(
    ("converted", "mutu"),
    [(100.0, "A"), (88.31, "A"), (88.305, "A"), (88.30, "B"), (76.61, "B"), (76.60, "C"), (65.0, "C"),
     (64.99, "D"), (25.0, "D")],
)  # fmt: skip
def test_the_categories_at_their_bounds(converted: float, mutu: str) -> None:
    assert skm.category(converted)[0] == mutu


def test_extremes_and_nothing() -> None:
    best, worst = skm.compute([(4,) * 9]), skm.compute([(1,) * 9])
    assert (best.converted, best.mutu, best.kinerja) == (100.0, "A", "Sangat Baik")
    assert (worst.converted, worst.mutu, worst.kinerja) == (25.0, "D", "Tidak Baik")
    empty = skm.compute([])
    assert empty.responses == 0 and empty.index is None and empty.mutu is None
    with pytest.raises(ValueError):
        skm.compute([(5,) * 9])
    with pytest.raises(ValueError):
        skm.category(24.9)


def rating(
    seq: int, values: tuple[int | None, ...], day: str = "2026-11-23", service: str = "request"
) -> dict:
    ratings = {f"u{i + 1}": v for i, v in enumerate(values) if v is not None}
    return {"seq": seq, "uuid": f"00000000-0000-4000-8000-{seq:012d}", "service": service, "day": day,
            "ratings": ratings}  # fmt: skip


def test_ratings_over_the_api_and_in_the_report(app: Flask, gateway: Gateway) -> None:
    records = [
        rating(i + 1, row, service="status-check" if i == 3 else "request") for i, row in enumerate(WORKED)
    ]
    records.append(rating(5, (4,) * 9, day="2026-02-10"))  # another quarter
    answer = gateway.send("ratings", records)
    assert answer.status_code == 200 and answer.get_json() == {"stream": "ratings", "acked": 5}
    assert gateway.send("ratings", records).get_json() == {"stream": "ratings", "acked": 5}  # idempotent
    engine = central_of(app).engine
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(skm_ratings)).scalar_one() == 5
    november = skm.report(engine, 2026, 11)
    assert november["overall"].converted == pytest.approx(82.175926, abs=1e-6)
    assert set(november["by_service"]) == {"request", "status-check"}
    assert november["by_gateway"][gateway.id].responses == 4
    year = skm.report(engine, 2026)
    assert year["overall"].responses == 5
    assert year["quarters"][0].converted == 100.0 and year["quarters"][3].responses == 4
    assert year["quarters"][1] is None and year["months"][10].mutu == "B"
    q4 = skm.report(engine, 2026, quarter=4)
    assert q4["overall"].responses == 4 and (q4["start"].month, q4["end"].month) == (10, 12)

    page = logged_in(app, "ppid1", "ppid").get("/laporan?tahun=2026&bulan=11").get_data(as_text=True)
    assert "82,18 (B, Baik)" in page and 'id="skm"' in page  # Bahasa Indonesia: a decimal comma
    csv_text = logged_in(app, "ppid3", "ppid").get("/laporan.csv?tahun=2026&bulan=11").get_data(as_text=True)
    assert "skm,index,82.18" in csv_text and "skm,mutu,B" in csv_text and "skm,u9,3.33" in csv_text
    assert f"skm-kiosk,{gateway.id},82.18 B" in csv_text and "skm,respondents,4" in csv_text
    quarter_page = (
        logged_in(app, "ppid2", "ppid").get("/laporan?tahun=2026&triwulan=1").get_data(as_text=True)
    )
    assert "100,00 (A, Sangat Baik)" in quarter_page
    # the page's exports carry the quarter shown, and export that quarter's index
    csv_link = re.search(r'id="report-csv" href="([^"]+)"', quarter_page)
    assert csv_link and "triwulan=1" in html.unescape(csv_link.group(1))
    quarter_csv = logged_in(app, "ppid4", "ppid").get(html.unescape(csv_link.group(1))).get_data(as_text=True)
    assert "skm,index,100.00" in quarter_csv and "skm,respondents,1" in quarter_csv


def _shown(page: str) -> str:
    """A report page's text with its charts' SVG (tooltips and legends) decoded."""
    charts = re.findall(r"base64,([A-Za-z0-9+/=]+)", page)
    return html.unescape(page + "".join(base64.b64decode(uri).decode() for uri in charts))


def _pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def test_the_report_writes_figures_and_words_in_the_officers_language(app: Flask, gateway: Gateway) -> None:
    """Bahasa Indonesia: decimal commas (``82,18``, ``3,33``) on the page and in the PDF; English: points and
    every word translated, a request's decision ``penuh`` and a case's stage included (page, charts, PDF); the
    CSV keeps points and codes whatever the language (docs/skm.md, "The CSV")."""
    gateway.send("ratings", [rating(i + 1, row) for i, row in enumerate(WORKED)])
    gateway.send("submissions", [citizen(1, "request", REQ, AT)])
    ppid = logged_in(app, "ppid1", "ppid")
    ppid.get("/kotak-masuk")
    assert step(ppid, REQ, "verifikasi").status_code == 302
    full = dict(FULL_ANSWER)
    assert step(ppid, REQ, "jawab", **full).status_code == 302
    url = "/laporan?tahun=2026&bulan=11"
    indonesian = _shown(ppid.get(url).get_data(as_text=True))
    assert "82,18 (B, Baik)" in indonesian and "3,33 (B; n=3)" in indonesian and "82.18" not in indonesian
    assert "Keputusan: Diberikan seluruhnya" in indonesian and "<td>0,0</td>" in indonesian
    pdf_id = _pdf_text(ppid.get(url.replace("/laporan", "/laporan.pdf")).data)
    assert "82,18 (B, Baik)" in pdf_id and "82.18" not in pdf_id
    csv_id = ppid.get(url.replace("/laporan", "/laporan.csv")).get_data(as_text=True)

    assert ppid.get("/bahasa/en?next=/laporan").status_code == 302
    english = _shown(ppid.get(url).get_data(as_text=True))
    assert "82.18 (B, Good)" in english and "3.33 (B; n=3)" in english and "82,18" not in english
    assert "Decision: Granted in full" in english and "<td>0.0</td>" in english
    for word in ("penuh", "Baik", "Diberikan", "permohonan", "Dijawab", "Tidak ada data"):
        assert word not in english, word
    pdf_en = _pdf_text(ppid.get(url.replace("/laporan", "/laporan.pdf")).data)
    assert "82.18 (B, Good)" in pdf_en and "penuh" not in pdf_en and "82,18" not in pdf_en
    csv_en = ppid.get(url.replace("/laporan", "/laporan.csv")).get_data(as_text=True)
    assert csv_en == csv_id  # machine-readable whatever the language
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(csv_en))}
    assert (
        rows[("skm", "index")] == "82.18"
        and rows[("skm", "u9")] == "3.33"
        and rows[("decisions", "penuh")] == "1"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"ratings": {"u1": 5}}, "not an integer 1-4"), ({"ratings": {"u10": 3}}, "unknown element"),
     ({"ratings": {}}, "rates no element"), ({"service": "x"}, "'service' is not one of"),
     ({"day": "23-11-2026"}, "'day' is not an ISO date"),
     ({"day": "2026-W47-1"}, "'day' is not an ISO date"),  # a week date Python reads, sorted into no period
     ({"day": "\u0662\u0660\u0662\u0666-11-23"}, "'day' is not an ISO date"),  # Arabic-Indic digits
     ({"uuid": " "}, "'uuid' is not a UUID")],
)  # fmt: skip
def test_a_malformed_rating_is_refused_by_itself(gateway: Gateway, change: dict, reason: str) -> None:
    answer = gateway.send("ratings", [{**rating(1, (4,) * 9), **change}])
    assert answer.status_code == 422
    rejected = answer.get_json()["rejected"]
    assert rejected[0]["seq"] == 1 and reason in rejected[0]["reason"]


def test_a_rating_holds_no_identity(app: Flask, gateway: Gateway) -> None:
    """Whatever a gateway sends beside a rating (a number, a NIK, a session), the central keeps none of it."""
    record = {**rating(1, (3,) * 9), "number": "DMK-WONOSALAM-261123-00011", "nik": "3517000000000001",
              "session": "abc", "at": 1_795_449_600_000}  # fmt: skip
    assert gateway.send("ratings", [record]).status_code == 200
    assert [c.name for c in skm_ratings.columns] == ["gateway_id", "seq", "uuid", "service", "day",
                                                     *(f"u{i}" for i in range(1, 10))]  # fmt: skip
    with central_of(app).engine.connect() as conn:
        row = conn.execute(sa.select(skm_ratings)).mappings().one()
    assert "DMK-WONOSALAM" not in str(dict(row)) and "3517" not in str(dict(row))
