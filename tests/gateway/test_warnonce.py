"""The one warn-once logger (gateway/warnonce.py): a repeating failure is one line, and so is its end."""

from __future__ import annotations

import logging

import pytest

from gateway.warnonce import WarnOnce

log = logging.getLogger("tests.warnonce")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == log.name]


def test_one_warning_for_a_repeating_failure_then_one_when_it_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=log.name)
    clock = Clock()
    trouble = WarnOnce(log, "serial /dev/ttyACM0", clock=clock)
    trouble.recovered("open again")  # nothing failed: nothing to say
    assert lines(caplog) == [] and not trouble.failing
    assert trouble.failed("cannot open: busy") is True
    for _ in range(50):
        clock.now += 2
        assert trouble.failed("cannot open: busy") is False
    assert trouble.failing and trouble.failures == 51
    trouble.recovered("open again")
    warnings = [text for level, text in lines(caplog) if level >= logging.WARNING]
    assert warnings == [
        "serial /dev/ttyACM0: cannot open: busy (retrying quietly)",
        "serial /dev/ttyACM0: open again after 100 s (51 failed attempts)",
    ]
    assert sum(level == logging.DEBUG for level, _ in lines(caplog)) == 50
    assert not trouble.failing and trouble.failures == 0
    trouble.failed("lost")  # a new trouble is said again
    assert lines(caplog)[-1] == (logging.WARNING, "serial /dev/ttyACM0: lost (retrying quietly)")


def test_a_failure_that_is_a_bug_is_an_error_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    trouble = WarnOnce(log, "node n1", level=logging.ERROR)
    try:
        raise ValueError("damaged row")
    except ValueError as err:
        trouble.failed(f"health check failed: {err}", exc_info=err)
    (record,) = [r for r in caplog.records if r.name == log.name]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "node n1: health check failed: damaged row (retrying quietly)"
