"""The NIK (Nomor Induk Kependudukan): its structure, read from the 16 digits on a KTP.

Sources: UU 23/2006 on Administrasi Kependudukan as amended by UU 24/2013 (Ps. 1 angka 12 and Ps. 13: every
resident has one NIK for life, issued by the Dinas Dukcapil), and Direktorat Jenderal Dukcapil Kemendagri's
description of its 16 digits: the 6-digit code of the region where it was first registered (province 2,
regency/city 2, district (kecamatan) 2, as in the Kemendagri region codes, Permendagri 72/2019 and
Kepmendagri 100.1.1-6117/2022), the date of birth as DDMMYY with 40 added to the day for women, and a
4-digit serial number counted from 0001 among those with the same first 12 digits.

Only the structure is checked: whether a NIK was ever issued only Dukcapil can say.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

__all__ = ["PROVINCES", "InvalidNik", "Nik", "parse"]

# Province codes of the Kemendagri region codes (Kepmendagri 100.1.1-6117/2022, with the Papua provinces of
# 2022 (UU 14, 15, 16 and 29/2022) and the earlier codes of Papua and Papua Barat that NIKs issued before
# still carry): 11-19 and 21 Sumatra, 31-36 Java, 51-53 Bali and Nusa Tenggara, 61-65 Kalimantan,
# 71-76 Sulawesi, 81-82 Maluku, 91-96 Papua.
PROVINCES = frozenset([*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66), *range(71, 77),
                       81, 82, *range(91, 97)])  # fmt: skip
_SIXTEEN = re.compile(r"[0-9]{16}")


class InvalidNik(ValueError):
    """A NIK that cannot be right; ``part`` says which: ``length``, ``region``, ``birth_date`` or ``serial``."""

    def __init__(self, part: str, message: str):
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class Nik:
    """A NIK read into its parts: ``region`` the 6-digit code (str), ``born_day``/``born_month`` (ints),
    ``born_yy`` the two digits of the year (int; the century is not part of a NIK), ``female`` (day + 40),
    ``serial`` (int, 1..9999)."""

    region: str
    born_day: int
    born_month: int
    born_yy: int
    female: bool
    serial: int


def _date_exists(day: int, month: int, yy: int) -> bool:
    """Whether DD-MM-YY is a date in 19YY or 20YY (29 February needs a leap year in one of them)."""
    if not 1 <= month <= 12 or day < 1:
        return False
    return any(day <= calendar.monthrange(century + yy, month)[1] for century in (1900, 2000))


def parse(text: str) -> Nik:
    """Read a NIK of exactly 16 ASCII digits (normalise other digits and drop spaces first).

    Raises :class:`InvalidNik` when the length, the region code (an unknown province, or regency or district
    00), the birth date (no such day, with or without the 40 for women) or the serial (0000) cannot be right.
    """
    if not _SIXTEEN.fullmatch(text):
        raise InvalidNik("length", "a NIK is 16 digits")
    province, regency, district = int(text[0:2]), int(text[2:4]), int(text[4:6])
    if province not in PROVINCES or regency == 0 or district == 0:
        raise InvalidNik("region", f"no region {text[:6]}")
    day, month, yy = int(text[6:8]), int(text[8:10]), int(text[10:12])
    female = day > 40
    if not _date_exists(day - 40 if female else day, month, yy):
        raise InvalidNik("birth_date", f"no birth date {text[6:12]}")
    serial = int(text[12:16])
    if serial == 0:
        raise InvalidNik("serial", "the serial starts at 0001")
    return Nik(text[:6], day - 40 if female else day, month, yy, female, serial)
