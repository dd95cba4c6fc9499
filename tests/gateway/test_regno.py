"""Registration numbers: format, parsing, and what the Damm check digit catches."""

from __future__ import annotations

import random
from datetime import date

import pytest

from gateway import regno


def _sample(count: int = 300) -> list[str]:
    rng = random.Random(20260101)
    out = []
    for _ in range(count):
        day = date(2024, 1, 1).fromordinal(date(2024, 1, 1).toordinal() + rng.randrange(3000))
        out.append(regno.make("dmk-wonosalam", day, rng.randrange(1, 20000)))
    return out


def test_format_and_round_trip() -> None:
    number = regno.make("dmk-wonosalam", date(2026, 11, 28), 7)
    assert number.startswith("DMK-WONOSALAM-261128-0007")
    assert len(number.rsplit("-", 1)[1]) == 5
    parsed = regno.parse(number)
    assert parsed == regno.Number("dmk-wonosalam", date(2026, 11, 28), 7)


@pytest.mark.parametrize("typed", ["dmk wonosalam 261128 00074", " DMK-WONOSALAM/261128/00074 "])
def test_typing_forgiven(typed: str) -> None:
    real = regno.make("dmk-wonosalam", date(2026, 11, 28), 7)
    assert regno.parse(typed.replace("00074", real[-5:])) == regno.parse(real)


def _digit_positions(number: str) -> list[int]:
    prefix = len("DMK-WONOSALAM-")
    return [i for i, ch in enumerate(number) if i >= prefix and ch.isdigit()]


def test_every_single_digit_error_is_caught() -> None:
    for number in _sample():
        for pos in _digit_positions(number):
            for digit in "0123456789":
                if digit == number[pos]:
                    continue
                wrong = number[:pos] + digit + number[pos + 1 :]
                with pytest.raises(regno.InvalidNumber):
                    regno.parse(wrong)


def test_every_adjacent_transposition_is_caught() -> None:
    for number in _sample():
        positions = _digit_positions(number)
        for a, b in zip(positions, positions[1:], strict=False):
            if b != a + 1 or number[a] == number[b]:
                continue
            swapped = number[:a] + number[b] + number[a] + number[b + 1 :]
            with pytest.raises(regno.InvalidNumber):
                regno.parse(swapped)


@pytest.mark.parametrize("text", ["", "hello", "DMK-261128-1", "DMK-261399-00011"])
def test_malformed_numbers(text: str) -> None:
    with pytest.raises(regno.InvalidNumber):
        regno.parse(text)


def test_each_problem_has_its_code() -> None:
    """A page chooses its words by the code (kiosk/forms.py), never by the English message."""
    good = regno.make("dmk", date(2026, 11, 28), 1)
    mistyped = good[:-1] + str((int(good[-1]) + 1) % 10)
    no_such_day = f"DMK-261399-0001{regno.damm('2613990001')}"  # month 13, with a right check digit
    for text, code in {"hello": "form", mistyped: "check_digit", no_such_day: "date"}.items():
        with pytest.raises(regno.InvalidNumber) as caught:
            regno.parse(text)
        assert caught.value.code == code, text
    with pytest.raises(regno.InvalidNumber) as caught:
        regno.canonical(good.lower())
    assert caught.value.code == "spelling"
