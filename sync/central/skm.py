"""The Survei Kepuasan Masyarakat (SKM) index from the citizens' ratings at the kiosks (docs/skm.md).

The rule is PermenPANRB 14/2017 (Pedoman Penyusunan Survei Kepuasan Masyarakat Unit Penyelenggara Pelayanan
Publik), Lampiran, Bab III "Pengolahan data": each of the nine elements (unsur, U1-U9) is rated 1-4; the
mean of each element over the questionnaires that rated it is its *nilai rata-rata* (NRR); the index is the
*weighted* mean of the NRRs, each weighted equally (bobot = jumlah bobot / jumlah unsur = 1/9 ≈ 0,111), i.e.
``index = Σ NRR_i × 1/9``; for the 25-100 scale it is multiplied by 25 (*nilai interval konversi*). The
quality category (mutu pelayanan, same Lampiran, the table "Nilai Persepsi, Interval, Interval Konversi, Mutu
Pelayanan dan Kinerja Unit Pelayanan"):

=====  ===============  ==================  ===================  =========================
mutu   kinerja          nilai interval      interval konversi    nilai persepsi
=====  ===============  ==================  ===================  =========================
A      Sangat Baik      3,5324 - 4,00       88,31 - 100,00       4
B      Baik             3,0644 - 3,532      76,61 - 88,30        3
C      Kurang Baik      2,60 - 3,064        65,00 - 76,60        2
D      Tidak Baik       1,00 - 2,5996       25,00 - 64,99        1
=====  ===============  ==================  ===================  =========================

Choices made where the Permen is silent, for a kiosk where each element may be skipped: an element's NRR is
the mean of the ratings given to it (a skipped element counts in neither the sum nor the count); an element
nobody rated in the period has no NRR, and the weight is then 1/k over the k elements that have one (with all
nine rated this is exactly the Permen's 1/9). The weight is the exact 1/9, not the rounded 0,111 some
spreadsheets use (which would put a perfect 4 at 99,9, not 100). The category is read from the converted
index rounded to two decimals, as the report shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.vocabulary import SKM_ELEMENTS
from sync.central.db import reading, skm_ratings

SCALE = 25  # the conversion to the 25-100 scale (Lampiran: "SKM unit pelayanan x 25")

# (lowest converted index, mutu, kinerja) from the Permen's table, best first
CATEGORIES: tuple[tuple[Decimal, str, str], ...] = (
    (Decimal("88.31"), "A", "Sangat Baik"),
    (Decimal("76.61"), "B", "Baik"),
    (Decimal("65.00"), "C", "Kurang Baik"),
    (Decimal("25.00"), "D", "Tidak Baik"),
)


def category(converted: float) -> tuple[str, str]:
    """The quality category of a converted index (25-100): ``(mutu, kinerja)``, e.g. ``("B", "Baik")``.

    Rounded half up to two decimals first (88.305 is 88.31, an A). Raises ValueError below 25 or above 100,
    which no mean of 1-4 ratings × 25 can be.
    """
    value = Decimal(repr(converted)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if not Decimal(25) <= value <= Decimal(100):
        raise ValueError(f"an SKM index on the 25-100 scale, not {converted!r}")
    for lowest, mutu, kinerja in CATEGORIES:
        if value >= lowest:
            return mutu, kinerja
    raise AssertionError("unreachable: D starts at 25")  # pragma: no cover


@dataclass(frozen=True)
class SkmResult:
    """The index of a set of ratings.

    ``responses``: questionnaires (ratings) counted; ``element_means``: element key (``u1`` .. ``u9``) -> its
    NRR (mean rating 1-4) or None when nobody rated it; ``element_counts``: ratings per element; ``index``:
    the weighted mean of the NRRs (1-4) or None when there is no rating; ``converted``: ``index`` × 25
    (25-100) or None; ``mutu`` / ``kinerja``: the category (``"A"``, ``"Sangat Baik"``) or None.
    """

    responses: int
    element_means: dict[str, float | None]
    element_counts: dict[str, int]
    index: float | None
    converted: float | None
    mutu: str | None
    kinerja: str | None
    element_categories: dict[str, str | None] = field(default_factory=dict)


def compute(rows: Iterable[Sequence[int | None]]) -> SkmResult:
    """The SKM index of questionnaires given as rows of nine ratings (U1..U9 in order; 1-4 or None when
    skipped). Raises ValueError for a row that is not nine values or a rating outside 1-4."""
    totals = [0] * len(SKM_ELEMENTS)
    counts = [0] * len(SKM_ELEMENTS)
    responses = 0
    for row in rows:
        if len(row) != len(SKM_ELEMENTS):
            raise ValueError(f"a questionnaire has {len(SKM_ELEMENTS)} ratings, not {len(row)}")
        responses += 1
        for i, value in enumerate(row):
            if value is None:
                continue
            if not 1 <= value <= 4:
                raise ValueError(f"a rating is 1 to 4, not {value!r}")
            totals[i] += value
            counts[i] += 1
    return _result(responses, totals, counts)


def _result(responses: int, totals: Sequence[int], counts: Sequence[int]) -> SkmResult:
    means = [t / c if c else None for t, c in zip(totals, counts, strict=True)]
    rated = [m for m in means if m is not None]
    index = sum(rated) / len(rated) if rated else None  # = Σ NRR × 1/k, without the rounding of 1/k
    converted = index * SCALE if index is not None else None
    mutu, kinerja = category(converted) if converted is not None else (None, None)
    return SkmResult(
        responses=responses,
        element_means=dict(zip(SKM_ELEMENTS, means, strict=True)),
        element_counts=dict(zip(SKM_ELEMENTS, counts, strict=True)),
        index=index,
        converted=converted,
        mutu=mutu,
        kinerja=kinerja,
        element_categories={
            e: category(m * SCALE)[0] if m is not None else None
            for e, m in zip(SKM_ELEMENTS, means, strict=True)
        },
    )


def aggregate(engine: Engine, start: date, end: date, by: str | None = None) -> dict[str | None, SkmResult]:
    """The index of the ratings of days ``start`` .. ``end`` (inclusive), whole (key None) or per ``by``:
    ``"gateway_id"`` (per kiosk) or ``"service"``. Sums and counts are taken by the database."""
    if by not in (None, "gateway_id", "service"):
        raise ValueError(f"an SKM grouping is by gateway_id or service, not {by!r}")
    columns = [skm_ratings.c[e] for e in SKM_ELEMENTS]
    figures = [
        sa.func.count(),
        *(sa.func.coalesce(sa.func.sum(c), 0) for c in columns),
        *(sa.func.count(c) for c in columns),
    ]
    within = (skm_ratings.c.day >= start.isoformat(), skm_ratings.c.day <= end.isoformat())
    if by is None:
        query = sa.select(sa.null(), *figures).where(*within)
    else:
        query = sa.select(skm_ratings.c[by], *figures).where(*within).group_by(skm_ratings.c[by])
    n = len(SKM_ELEMENTS)
    out: dict[str | None, SkmResult] = {}
    with reading(engine) as conn:
        for row in conn.execute(query):
            values = list(row)
            if not values[1]:  # no rating at all (the whole, ungrouped)
                continue
            out[values[0]] = _result(int(values[1]), [int(v) for v in values[2 : 2 + n]],
                                     [int(v) for v in values[2 + n :]])  # fmt: skip
    return out


def quarter_of(month: int) -> int:
    """The quarter (1-4) a month (1-12) falls in."""
    return (month - 1) // 3 + 1


def report(engine: Engine, year: int, month: int | None = None, quarter: int | None = None) -> dict[str, Any]:
    """The SKM part of the back office's report for a month, a quarter or a year.

    Answers ``{"start", "end", "overall": SkmResult | None, "by_gateway": {id: SkmResult}, "by_service":
    {service: SkmResult}, "quarters": [SkmResult | None] * 4, "months": [SkmResult | None] * 12}``; the
    quarters and months are those of ``year`` (the trend). ``month`` wins over ``quarter``.
    """
    if month is not None:
        start, end = _month(year, month)
    elif quarter is not None:
        start, end = _month(year, quarter * 3 - 2)[0], _month(year, quarter * 3)[1]
    else:
        start, end = date(year, 1, 1), date(year, 12, 31)
    months = [aggregate(engine, *_month(year, m)).get(None) for m in range(1, 13)]
    quarters = [
        aggregate(engine, _month(year, q * 3 - 2)[0], _month(year, q * 3)[1]).get(None) for q in range(1, 5)
    ]
    by_gateway = {str(k): v for k, v in sorted(aggregate(engine, start, end, "gateway_id").items())}
    by_service = {str(k): v for k, v in sorted(aggregate(engine, start, end, "service").items())}
    return {"start": start, "end": end, "overall": aggregate(engine, start, end).get(None),
            "by_gateway": by_gateway, "by_service": by_service, "quarters": quarters, "months": months}  # fmt: skip


def _month(year: int, month: int) -> tuple[date, date]:
    last = date(year + (month == 12), month % 12 + 1, 1).toordinal() - 1
    return date(year, month, 1), date.fromordinal(last)
