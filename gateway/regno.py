"""Registration numbers (No. Pendaftaran) for citizens' submissions, unique without coordination.

Format: ``<GATEWAY ID>-<YYMMDD>-<NNNN><C>``, e.g. ``DMK-WONOSALAM-261128-00074``: the kiosk's id (unique in
the regency), the day, the submission's ordinal that day at this kiosk, and a Damm check digit over the
digits (it catches every single mistyped digit and every swap of two adjacent digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from gateway.errors import AnjunganError

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_NUMBER_RE = re.compile(r"([A-Z0-9][A-Z0-9-]{0,31})-(\d{6})-(\d{5,})")


# Why a number cannot be right: not in the form KIOSK-YYMMDD-NNNNC; a check digit that does not match (a
# mistyped or swapped digit); a date that does not exist; or, where a number travels between machines, a
# variant spelling of a right one (see :func:`canonical`).
Problem = Literal["form", "check_digit", "date", "spelling"]


class InvalidNumber(AnjunganError):
    """A registration number that is malformed or whose check digit does not match; ``code`` (a
    :data:`Problem`) says which, so that a page can choose its own words for it (the message is English)."""

    def __init__(self, message: str, *, code: Problem):
        super().__init__(message)
        self.code: Problem = code


@dataclass(frozen=True)
class Number:
    gateway: str
    day: date
    ordinal: int

    def __str__(self) -> str:
        digits = f"{self.day:%y%m%d}{self.ordinal:04d}"
        return f"{self.gateway.upper()}-{self.day:%y%m%d}-{self.ordinal:04d}{damm(digits)}"


def damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def make(gateway_id: str, day: date, ordinal: int) -> str:
    return str(Number(gateway_id, day, ordinal))


def parse(text: str) -> Number:
    """Parse a typed number (case, spaces and '/' forgiven); raise InvalidNumber when it cannot be right."""
    cleaned = re.sub(r"[\s/]+", "-", text.strip().upper()).strip("-")
    match = _NUMBER_RE.fullmatch(cleaned)
    if not match:
        raise InvalidNumber("the registration number is not in the form KIOSK-YYMMDD-NNNNC", code="form")
    gateway, day_digits, tail = match.groups()
    if damm(day_digits + tail) != 0:
        raise InvalidNumber(
            "the registration number's check digit does not match: please check it", code="check_digit"
        )
    try:
        day = date(2000 + int(day_digits[:2]), int(day_digits[2:4]), int(day_digits[4:]))
    except ValueError:
        raise InvalidNumber("the registration number holds an impossible date", code="date") from None
    return Number(gateway.lower(), day, int(tail[:-1]))


def canonical(text: str) -> str:
    """``text`` when it is a registration number exactly as :func:`make` writes it; raise InvalidNumber otherwise.

    :func:`parse` forgives what a citizen types (case, spaces, '/'); a number that travels between machines
    must be written one way only, so that one submission has one number everywhere (the central keys its
    ownership checks on it). Raises InvalidNumber naming the canonical form when ``text`` merely spells one.
    """
    number = str(parse(text))
    if number != text:
        raise InvalidNumber(f"the registration number is not written as {number!r}", code="spelling")
    return number
