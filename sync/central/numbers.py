"""Numbers and periods as people read them in the back office's language, with Babel (CLDR): Bahasa Indonesia
writes a decimal comma and groups thousands with dots (``1.234,5``), English the other way round
(``1,234.5``). Machine-readable output (downloads, CKAN, Open311, the webhook's JSON) keeps plain numbers."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from sync.central import measures


def number(value: float | int, lang: str, decimals: int = 3, *, fixed: bool = False) -> str:
    """``value`` in ``lang`` (``id`` or ``en``) rounded to ``decimals`` decimals: all of them shown when
    ``fixed`` (coordinates, ``-6,90120``), else only those needed (``3,5``; ``12``)."""
    pattern = "#,##0"
    if decimals > 0:
        pattern += "." + ("0" if fixed else "#") * decimals
    return str(format_decimal(value, format=pattern, locale=lang))


def measured(value: float | int, name: str, lang: str) -> str:
    """A value of measurement ``name`` at its precision (:func:`measures.decimals_of`)."""
    return number(value, lang, measures.decimals_of(name))


def percent(value: float, lang: str, decimals: int = 1) -> str:
    """A percentage with its sign, ``93,5 %`` / ``93.5 %`` (a space before ``%`` in both, as SI writes it)."""
    return f"{number(value, lang, decimals, fixed=True)} %"


WEEK = {"id": "Minggu {week}, {year}", "en": "Week {week}, {year}"}


def period_label(period: str, first: date, lang: str, week_words: str | None = None) -> str:
    """The label of a completeness period that starts on ``first``: a day (``30 Nov 2026``), an ISO week
    (``Minggu 49, 2026`` / ``Week 49, 2026``; ``week_words``, a format with ``{week}`` and ``{year}``, when the
    caller has it translated) or a month (``Desember 2026`` / ``December 2026``)."""
    if period == "week":
        year, week, _weekday = first.isocalendar()
        return (week_words or WEEK.get(lang, WEEK["id"])).format(week=week, year=year)
    if period == "month":
        return str(format_date(first, "LLLL yyyy", locale=lang))
    return str(format_date(first, "d MMM yyyy", locale=lang))
