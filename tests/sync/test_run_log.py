"""What ``sync run`` says: nothing alarming while its central is not up yet, one line when it works again, and a
``sync status`` that tells a stream with nothing to send from one that never got through."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from gateway.store import Store
from sync.client import SyncClient, status
from tests.fixtures.faultproxy import PASS, Fault, fault_proxy
from tests.ingest.helpers import wait_for
from tests.sync.conftest import CentralHandle, fill

DROP = Fault("drop")


def test_sync_run_waits_for_its_central_then_says_when_it_works_again(
    central: CentralHandle,
    store: Store,
    make_client: Callable[..., SyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sync")
    down = threading.Event()
    down.set()  # the central is not up yet (the demo starts both at once; a Pi boots before its link)
    with fault_proxy((central.host, central.port)) as proxy:
        proxy.policy = lambda _request: DROP if down.is_set() else PASS
        stop = threading.Event()
        client = make_client(url=proxy.url, stop=stop)
        loop = threading.Thread(target=client.run_forever, name="sync-run")
        loop.start()
        try:
            wait_for(lambda: "waiting for the central at" in caplog.text, what="the waiting line")
            fill(store, events=1)
            down.clear()
            wait_for(lambda: central.seqs("events") == [1], timeout=30, what="the first round")
            alarms = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            assert alarms == []  # before: "sync failed: cannot reach the central", "fails an empty batch too"
            assert f"the central at {proxy.url} answers" in caplog.text
            down.set()  # the link is cut: the next rounds fail
            wait_for(
                lambda: "sync failed: cannot reach the central" in caplog.text, timeout=30, what="a failure"
            )
            down.clear()
            wait_for(lambda: "sync works again after" in caplog.text, timeout=30, what="the recovery line")
            fill(store, events=1)
            wait_for(lambda: central.seqs("events") == [1, 2], timeout=30, what="a round after the cut")
        finally:
            stop.set()
            loop.join(30)
    assert not loop.is_alive()


def test_status_tells_an_empty_stream_from_one_that_never_got_through(store: Store) -> None:
    fill(store, events=1)
    rows = {line.split()[0]: line for line in status.render(status.collect(store)).splitlines()[1:4]}
    assert rows["submissions"].endswith("nothing to send yet")  # it showed "never" while rounds succeeded
    assert rows["events"].endswith("never")
