"""One backoff for every part (gateway/backoff.py), with each part's own figures."""

from __future__ import annotations

import random

import pytest

from gateway.backoff import Backoff, pause_after
from gateway.ingest.serial_reader import SerialReader
from gateway.supervise import Child


def pauses(backoff: Backoff, n: int) -> list[float]:
    return [backoff.next() for _ in range(n)]


def test_without_jitter_the_pause_doubles_up_to_the_cap_and_starts_again_after_a_success() -> None:
    backoff = Backoff(0.25, 3.0)
    assert pauses(backoff, 6) == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.attempt == 6
    backoff.reset()
    assert pauses(backoff, 2) == [0.25, 0.5]


def test_a_factor_other_than_two() -> None:
    assert pauses(Backoff(1.0, 100.0, factor=3.0), 5) == [1.0, 3.0, 9.0, 27.0, 81.0]


def test_many_failures_never_overflow() -> None:
    backoff = Backoff(1.0, 900.0, jitter=True, rng=random.Random(3))
    assert all(0 <= p <= 900.0 for p in pauses(backoff, 5000))


def test_retry_after_is_a_floor_capped_at_the_cap_also_without_jitter() -> None:
    backoff = Backoff(1.0, 60.0)
    assert backoff.next(retry_after_s=30) == 30
    assert backoff.next(retry_after_s=0) == 2.0
    assert backoff.next(retry_after_s=86_400) == 60


@pytest.mark.parametrize("args", [(-1.0, 1.0), (1.0, -1.0), (1.0, 1.0, 0.5)])
def test_nonsense_figures_are_refused(args: tuple[float, ...]) -> None:
    base_s, cap_s, *factor = args
    with pytest.raises(ValueError):
        Backoff(base_s, cap_s, factor=factor[0] if factor else 2.0)


class _Nowhere:
    def handle(self, lines: object) -> None:  # never called: the reader is not started
        raise AssertionError(lines)


def test_a_serial_port_that_cannot_be_opened_is_tried_after_half_a_second_doubling_to_30_s() -> None:
    reader = SerialReader("loop://", _Nowhere())
    assert pauses(reader.backoff, 8) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_supervised_part_that_exits_is_started_again_after_1_s_doubling_to_60_s() -> None:
    child = Child("ingest", ["true"])
    assert pauses(child.backoff, 8) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert Child("kiosk", ["true"]).backoff is not child.backoff  # each child its own


def test_a_count_of_failures_kept_in_a_row_gives_the_same_pauses_as_a_loop() -> None:
    loop = Backoff(30, 3600)
    assert pause_after(0, 30, 3600) == 0.0
    for failures in range(1, 40):
        assert pause_after(failures, 30, 3600) == loop.next()
    assert pause_after(10_000, 30, 3600) == 3600
