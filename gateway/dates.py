"""Working-day deadlines of UU 14/2008 and SP4N-LAPOR!, counted on the Indonesian calendar.

A working day is Monday to Friday and not a national holiday (``holidays``' Indonesia calendar, which
includes the Islamic holidays by their expected dates). The day a submission is received is day zero: the
deadline is the N-th working day after it. The sync side and the central reuse these functions.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import holidays

REQUEST_DAYS = 10  # Ps. 22(7): written answer to an information request
EXTENSION_DAYS = 7  # Ps. 22(8): one extension, with reasons
OBJECTION_FILING_DAYS = 30  # Ps. 36(1): an objection is filed within 30 working days of its ground
OBJECTION_ANSWER_DAYS = 30  # Ps. 36(2): the Atasan PPID answers within 30 working days
COMPLAINT_DAYS = 8  # SP4N-LAPOR!: verification (3 working days) + follow-up (5 working days)


@functools.lru_cache(maxsize=32)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself never counts)."""
    if count < 0:
        raise ValueError("count must not be negative")
    current = day
    while count:
        current += timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current


def request_due(received: date) -> date:
    """When the written answer to an information request is due."""
    return add_working_days(received, REQUEST_DAYS)


def extended_due(due: date) -> date:
    """The due date after the one allowed extension."""
    return add_working_days(due, EXTENSION_DAYS)


def objection_due(received: date) -> date:
    """When the answer to an objection is due."""
    return add_working_days(received, OBJECTION_ANSWER_DAYS)


def objection_filing_deadline(ground: date) -> date:
    """The last day an objection can be filed for a ground that arose on ``ground``."""
    return add_working_days(ground, OBJECTION_FILING_DAYS)


def complaint_due(received: date) -> date:
    """When the follow-up of a complaint is due (verification plus follow-up)."""
    return add_working_days(received, COMPLAINT_DAYS)


def due_for(kind: str, received: date) -> date:
    """The due date of a submission of ``kind`` (request, objection, complaint: the store's kinds)."""
    return {"request": request_due, "objection": objection_due, "complaint": complaint_due}[kind](received)
