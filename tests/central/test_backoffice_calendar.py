"""Working-day deadlines on real calendars: Lebaran (with its cuti bersama), Christmas and New Year, and a
regency's own days off. The expected dates were counted by hand on the SKB cuti bersama calendars."""

from __future__ import annotations

from datetime import date

import pytest

from gateway import dates
from gateway.dates import WorkCalendar

CASES = [
    # (received, working days, due): why
    (date(2024, 4, 5), 10, date(2024, 4, 29)),  # Lebaran 2024: cuti 8, 9, 12, 15 Apr; Idul Fitri 10-11 Apr
    (date(2025, 3, 27), 10, date(2025, 4, 22)),  # Nyepi cuti 28 Mar, Idul Fitri 31 Mar-1 Apr, cuti 2-7 Apr,
    # Good Friday 18 Apr
    (date(2026, 3, 17), 10, date(2026, 4, 8)),  # Nyepi 19 Mar, cuti 18, 20, 23, 24 Mar; Good Friday 3 Apr
    (date(2025, 12, 19), 10, date(2026, 1, 7)),  # Christmas 25 Dec, cuti 26 Dec, New Year 1 Jan
    (date(2025, 12, 23), 8, date(2026, 1, 7)),  # a complaint's 3 + 5 working days over the same days
    (
        date(2026, 12, 22),
        7,
        date(2027, 1, 6),
    ),  # an extension: cuti 24 Dec, Christmas, New Year, Isra Miraj 5 Jan
    (date(2026, 11, 23), 30, date(2027, 1, 8)),  # an objection: also Isra Mi'raj on 5 Jan 2027
    (date(2025, 2, 3), 10, date(2025, 2, 17)),  # no holiday in between: two weeks
]


@pytest.mark.parametrize(("received", "days", "due"), CASES)
def test_deadlines_around_lebaran_christmas_and_new_year(received: date, days: int, due: date) -> None:
    assert WorkCalendar().add_working_days(received, days) == due
    assert WorkCalendar().working_days_between(received, due) == days


def test_cuti_bersama_and_holidays_are_days_off() -> None:
    for day in (date(2025, 4, 2), date(2025, 12, 26), date(2026, 12, 24), date(2024, 4, 8)):
        assert not dates.is_working_day(day)  # cuti bersama
    assert not dates.is_working_day(date(2025, 3, 31)) and dates.is_working_day(date(2025, 4, 8))


def test_local_days_off_push_deadlines() -> None:
    anniversary = date(2025, 2, 10)  # e.g. the regency's anniversary
    assert WorkCalendar(frozenset({anniversary})).add_working_days(date(2025, 2, 3), 10) == date(2025, 2, 18)
    assert WorkCalendar().add_working_days(date(2025, 2, 3), 10) == date(2025, 2, 17)
    assert WorkCalendar().working_days_between(date(2025, 2, 7), date(2025, 2, 3)) == 0
