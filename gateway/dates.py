"""Working-day deadlines of UU 14/2008 and SP4N-LAPOR!, counted on the Indonesian calendar.

A working day is Monday to Friday and neither a national holiday nor a cuti bersama day (``holidays``'
Indonesia calendar: its "public" category, which includes the Islamic holidays by their expected dates, and its
"government" category, the joint leave days that the SKB of the ministers sets each year and that government
offices keep closed). A :class:`WorkCalendar` adds a regency's local days off. The day a submission is received is day zero: the
deadline is the N-th working day after it. The sync side and the central reuse these functions.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays

from gateway.vocabulary import SubmissionKind

REQUEST_DAYS = 10  # Ps. 22(7): written answer to an information request
EXTENSION_DAYS = 7  # Ps. 22(8): one extension, with reasons
OBJECTION_FILING_DAYS = 30  # Ps. 36(1): an objection is filed within 30 working days of its ground
OBJECTION_ANSWER_DAYS = 30  # Ps. 36(2): the Atasan PPID answers within 30 working days
COMPLAINT_DAYS = 8  # SP4N-LAPOR!: verification (3 working days) + follow-up (5 working days)
COMPLAINT_VERIFY_DAYS = 3  # SP4N-LAPOR!: verification of a new report
COMPLAINT_FOLLOW_UP_DAYS = 5  # SP4N-LAPOR!: the agency's follow-up after verification
COMPLAINT_CLOSE_DAYS = 10  # SP4N-LAPOR!: a report is closed 10 working days after a reply with no answer


INDONESIA_MODULE = "anjungan_holidays_indonesia"  # holidays' countries/indonesia.py, loaded on its own
_LOADING = threading.Lock()


def _indonesia() -> Callable[..., Any]:
    """``holidays``' Indonesia calendar class (called with ``years=`` and ``categories=``), its module loaded from
    its own file.

    ``holidays.country_holidays("ID")`` imports the package ``holidays.countries``, whose ``__init__`` imports
    every country's module: about 7 MB of code and classes that stay in each process that counts a deadline
    (the kiosk, from its first receipt), of which one country is used. Loading the one file (importlib's recipe
    "Importing a source file directly") keeps the others out. It is loaded under a name of its own, not
    ``holidays.countries.indonesia``: the package's own import, in another thread or later, never meets a
    module half loaded or a package without its parent, and loads its own copy. Should a release of
    ``holidays`` lay its files out otherwise, the package's own way is taken.
    """
    with _LOADING:
        module = sys.modules.get(INDONESIA_MODULE)
        if module is None:
            path = Path(holidays.__file__).parent / "countries" / "indonesia.py"
            spec = importlib.util.spec_from_file_location(INDONESIA_MODULE, path)
            if not path.is_file() or spec is None or spec.loader is None:
                return functools.partial(holidays.country_holidays, "ID")
            module = importlib.util.module_from_spec(spec)
            sys.modules[INDONESIA_MODULE] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[INDONESIA_MODULE]
                raise
    return module.Indonesia  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=32)
def _holidays(year: int) -> frozenset[date]:
    calendar = _indonesia()(years=year, categories=("public", "government"))
    return frozenset(calendar.keys())


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


_DUE: dict[str, Callable[[date], date]] = {
    SubmissionKind.REQUEST: request_due,
    SubmissionKind.OBJECTION: objection_due,
    SubmissionKind.COMPLAINT: complaint_due,
}


def due_for(kind: str, received: date) -> date:
    """The due date of a submission of ``kind`` (:class:`~gateway.vocabulary.SubmissionKind`)."""
    return _DUE[kind](received)


@dataclass(frozen=True)
class WorkCalendar:
    """The national calendar plus a regency's own days off (``days_off``: dates that are not working days).

    The module's functions are this calendar with no local days off.
    """

    days_off: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day) and day not in self.days_off

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself never counts); ValueError if count < 0."""
        if count < 0:
            raise ValueError("count must not be negative")
        current = day
        while count:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count
