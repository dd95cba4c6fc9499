"""One way to stop on SIGTERM or SIGINT (gateway/stopsignals.py)."""

from __future__ import annotations

import signal
import threading

import pytest

from gateway.stopsignals import stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_asks_the_loop_to_stop_and_the_old_handler_comes_back(signum: signal.Signals) -> None:
    before = signal.getsignal(signum)
    stop = threading.Event()
    with stop_on_signals(stop.set):
        signal.raise_signal(signum)
        assert stop.wait(5)
    assert signal.getsignal(signum) is before


def test_other_signals_can_be_named() -> None:
    calls: list[str] = []
    sigterm = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(lambda: calls.append("stop"), [signal.SIGHUP]):
        assert signal.getsignal(signal.SIGTERM) is sigterm  # only the signals named
        signal.raise_signal(signal.SIGHUP)
    assert calls == ["stop"]


def test_off_the_main_thread_nothing_is_installed() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    seen: dict[int, object] = {}

    def elsewhere() -> None:
        with stop_on_signals(lambda: None):
            seen.update({sig: signal.getsignal(sig) for sig in before})

    thread = threading.Thread(target=elsewhere, name="not-main")
    thread.start()
    thread.join(10)
    assert seen == before
