"""The sync loop feeds systemd's watchdog while it waits: a long idle interval or back-off is not a stuck loop.

Deterministic: the loop's waits advance a virtual clock instead of sleeping, the notifier measures with it, and
the test plays systemd: it binds the datagram socket that ``$NOTIFY_SOCKET`` would name and reads every
``WATCHDOG=1``, stamped with the virtual time at which the loop sent it. The watchdog is the unit's
(WatchdogSec=1800) and the waits the longest the configuration allows (interval and back-off cap of 900 s), and
longer: an 1800 s interval. Before, the loop pinged only at the start of an iteration, at most once per half
period: an idle interval of 1800 s left a gap of 1800 s, and systemd killed a healthy sync (SIGABRT).
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway import config as config_mod
from gateway.backoff import Backoff
from gateway.errors import ConfigError
from gateway.sdnotify import PING_SPACING, WAIT_SLICE, Notifier
from gateway.store import Store
from sync.client import SyncClient
from tests.sync.conftest import CentralHandle, fill

WATCHDOG_S = float(config_mod.SYNC_WATCHDOG_S)
MOST_APART = WATCHDOG_S * (PING_SPACING + WAIT_SLICE)  # what sdnotify promises for a waiting loop


class VirtualTime:
    """The loop's clock and sleep: each sleep first collects the pings sent since the last one (stamped with
    the virtual time they were sent at), then moves the clock on; past ``until`` it stops the loop."""

    def __init__(self, sock: socket.socket, stop: threading.Event, until: float) -> None:
        self.now = 10_000.0
        self.until = self.now + until
        self.pings: list[float] = []
        self.sleeps = 0
        self._sock = sock
        self._stop = stop

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.collect()
        self.sleeps += 1
        self.now += seconds
        if self.now >= self.until:
            self._stop.set()
        return self._stop.is_set()

    def collect(self) -> None:
        while True:
            try:
                data = self._sock.recv(4096)
            except BlockingIOError:
                return
            assert data == b"WATCHDOG=1"
            self.pings.append(self.now)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield sock, path
    finally:
        sock.close()


class Longest(random.Random):
    """Full jitter that always draws the ceiling: every back-off is as long as the settings allow."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _run(client: SyncClient, stop: threading.Event) -> None:
    loop = threading.Thread(target=client.run_forever, name="sync-run")
    loop.start()
    loop.join(300)
    assert not loop.is_alive(), "the loop did not stop"


def _gaps(pings: list[float], start: float, end: float) -> list[float]:
    marks = [start, *pings, end]
    return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def test_the_loop_pings_through_the_longest_back_offs(
    store: Store, make_client: Callable[..., SyncClient], notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    stop = threading.Event()
    time = VirtualTime(sock, stop, until=6 * WATCHDOG_S)
    notifier = Notifier(path, WATCHDOG_S, clock=time.monotonic)
    client = make_client(url="http://127.0.0.1:9", stop=stop, sleep=time.sleep, monotonic=time.monotonic,
                         notifier=notifier)  # fmt: skip
    client.backoff = Backoff(
        base_s=900.0, cap_s=900.0, jitter=True, rng=Longest()
    )  # the longest wait, every time
    start = time.now
    _run(client, stop)
    time.collect()
    assert time.now >= time.until and time.sleeps >= 12  # it waited out a dozen back-offs of 900 s
    gaps = _gaps(time.pings, start, time.now)
    assert max(gaps) <= MOST_APART, gaps
    assert max(gaps) < WATCHDOG_S / 2  # sd_watchdog_enabled(3): at least every half period


def test_the_loop_pings_through_an_idle_interval_longer_than_the_watchdog(
    central: CentralHandle,
    store: Store,
    make_client: Callable[..., SyncClient],
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    fill(store, events=2)
    stop = threading.Event()
    time = VirtualTime(sock, stop, until=3 * WATCHDOG_S)
    notifier = Notifier(path, WATCHDOG_S, clock=time.monotonic)
    client = make_client(stop=stop, sleep=time.sleep, monotonic=time.monotonic, notifier=notifier)
    client.settings.interval_s = WATCHDOG_S  # beyond what the configuration allows: the waits ping anyway
    start = time.now
    _run(client, stop)
    time.collect()
    assert central.seqs("events") == [1, 2]  # the rounds ran and succeeded: the waits were idle intervals
    gaps = _gaps(time.pings, start, time.now)
    assert max(gaps) <= MOST_APART, gaps


@pytest.mark.parametrize(
    ("key", "value"),
    [("interval_s", "3600"), ("backoff_cap_s", "1800"), ("timeout_s", "600"), ("interval_s", "0"),
     ("backoff_base_s", "nan"), ("interval_s", "inf")],
)  # fmt: skip
def test_settings_beyond_the_watchdog_are_refused_in_one_line(tmp_path: Path, key: str, value: str) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("")
    with pytest.raises(ConfigError) as refused:
        config_mod.load(config, env={f"ANJUNGAN_SYNC_{key.upper()}": value})
    text = str(refused.value)
    assert text.startswith(f"sync.{key} must be more than 0 and at most ")
    assert "the sync service's watchdog is 1800 s (WatchdogSec= in anjungan-sync.service)" in text
