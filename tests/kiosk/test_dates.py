from datetime import date

import pytest

from gateway import dates


def test_request_due_is_a_working_day_after_two_weeks_or_more() -> None:
    due = dates.request_due(date(2025, 6, 2))  # Idul Adha (2025-06-06) falls in between
    assert dates.is_working_day(due)
    assert (due - date(2025, 6, 2)).days > 14


def test_plain_fortnight_without_holidays() -> None:
    # Monday 2025-02-03: ten working days later, no national holiday in between -> Monday 2025-02-17
    assert dates.request_due(date(2025, 2, 3)) == date(2025, 2, 17)


def test_holidays_are_not_working_days() -> None:
    assert not dates.is_working_day(date(2025, 8, 17))  # Independence Day (a Sunday anyway)
    assert not dates.is_working_day(date(2024, 8, 17))
    assert not dates.is_working_day(date(2025, 12, 25))  # Christmas, a Thursday
    assert not dates.is_working_day(date(2025, 3, 31))  # Idul Fitri
    assert dates.is_working_day(date(2025, 12, 24))


def test_christmas_and_new_year_push_the_deadline() -> None:
    # Friday 2025-12-19: 22,23,24,29,30,31,2,5,6,7 (25 Dec and 1 Jan are holidays, 26 Dec is cuti bersama)
    assert dates.request_due(date(2025, 12, 19)) == date(2026, 1, 7)


def test_submission_on_a_weekend_counts_from_monday() -> None:
    assert dates.request_due(date(2025, 2, 1)) == dates.request_due(date(2025, 1, 31)) == date(2025, 2, 14)
    assert dates.add_working_days(date(2025, 2, 1), 1) == date(2025, 2, 3)


def test_extension_objection_complaint() -> None:
    due = date(2025, 2, 17)
    assert dates.extended_due(due) == date(2025, 2, 26)
    assert dates.objection_due(date(2025, 2, 3)) > dates.request_due(date(2025, 2, 3))
    assert dates.complaint_due(date(2025, 2, 3)) == date(2025, 2, 13)
    assert dates.due_for("objection", date(2025, 2, 3)) == dates.objection_due(date(2025, 2, 3))
    with pytest.raises(ValueError):
        dates.add_working_days(due, -1)


def test_the_calendar_loads_indonesia_alone_and_agrees_with_the_package() -> None:
    """Counting a deadline loads holidays' Indonesia module only, not every country's (about 7 MB kept in the
    kiosk's process), and the days off are those of ``holidays.country_holidays("ID")``; the package's own
    import still works after it, in full."""
    import json
    import subprocess
    import sys

    import holidays

    script = (
        "import json, sys\n"
        "from datetime import date\n"
        "from gateway import dates\n"
        "dates.request_due(date(2025, 12, 19))\n"
        "days = {y: sorted(d.isoformat() for d in dates._holidays(y)) for y in (2024, 2025, 2026, 2027)}\n"
        "countries = sorted(m for m in sys.modules if m.startswith('holidays.countries'))\n"
        "import holidays.countries.indonesia\n"
        "assert holidays.countries.indonesia.Indonesia(years=2026)\n"
        "print(json.dumps({'days': days, 'countries': countries}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    assert seen["countries"] == []  # (its own copy of holidays' Indonesia module, under a name of its own)
    for year, days in seen["days"].items():
        calendar = holidays.country_holidays("ID", years=int(year), categories=("public", "government"))
        assert days == sorted(d.isoformat() for d in calendar), year
