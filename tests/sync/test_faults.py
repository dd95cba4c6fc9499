"""Through a fault-injecting proxy: dropped connections, delays, answers cut after the central committed,
500s and 429s with Retry-After — nothing lost, nothing duplicated."""

from __future__ import annotations

import contextlib
import random
import time

import pytest

from sync.client import TransientError
from sync.client.uplink import STREAMS
from tests.fixtures.faultproxy import Fault, Request, fault_proxy
from tests.sync.conftest import fill, store_seqs


@pytest.fixture
def proxy(central):
    with fault_proxy((central.host, central.port)) as running:
        yield running


def assert_exactly_once(store, central):
    for stream in STREAMS:
        assert central.seqs(stream) == store_seqs(store, stream), stream
        assert store.acked(stream) == (store_seqs(store, stream) or [0])[-1]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("drop", match="/batches"),
        Fault("delay", match="/batches", delay_s=0.3),
        Fault("cut", match="/batches"),
        Fault("cut", match="/batches", body_bytes=5),
        Fault("status", match="/batches", status=500),
        Fault("status", match="/batches", status=503, retry_after="0"),
        Fault("status", match="/batches", status=429, retry_after="0.1"),
    ],
    ids=lambda f: f"{f.kind}-{f.status if f.kind == 'status' else f.body_bytes}",
)
def test_one_fault_loses_and_duplicates_nothing(store, central, proxy, make_client, fault):
    fill(store, frames=50, events=5, submissions=2)
    proxy.add(fault, fault)
    make_client(url=proxy.url).run_once(attempts=5)
    assert_exactly_once(store, central)
    assert proxy.seen[fault.kind] == 2


def test_retry_after_is_honoured(store, central, proxy, make_client):
    fill(store, events=1)
    proxy.add(Fault("status", match="/batches", status=429, retry_after="0.19"))  # the cap in tests is 0.2 s
    started = time.monotonic()
    make_client(url=proxy.url).run_once(attempts=3)
    assert time.monotonic() - started >= 0.19
    assert_exactly_once(store, central)


def test_cut_answer_shrinks_the_batch(store, central, proxy, make_client):
    fill(store, frames=100)
    client = make_client(url=proxy.url)
    proxy.add(Fault("cut", match="/batches"))
    with pytest.raises(TransientError) as info:
        client.run_once(attempts=1)
    assert "cannot reach" in str(info.value)
    assert client.uplink.sizes["events"] == 50  # the writer's node_new events go first
    assert "cannot reach" in store.backlog()["events"]["last_error"]
    client.run_once()
    assert_exactly_once(store, central)


def test_random_faults_over_many_rounds(store, central, proxy, make_client):
    rng = random.Random(5)
    kinds = [
        Fault("drop"),
        Fault("cut"),
        Fault("cut", body_bytes=10),
        Fault("status", status=500),
        Fault("status", status=429, retry_after="0"),
        Fault("delay", delay_s=0.05),
    ]

    def policy(request: Request) -> Fault:
        return rng.choice(kinds) if rng.random() < 0.4 else Fault()

    proxy.policy = policy
    client = make_client(url=proxy.url)
    for round_no in range(12):
        fill(store, frames=rng.randint(0, 200), events=rng.randint(0, 10), submissions=rng.randint(0, 2),
             start=round_no * 1000)  # fmt: skip
        with contextlib.suppress(TransientError):
            client.run_once(attempts=3)
    proxy.policy = None
    client.run_once()
    assert_exactly_once(store, central)
    assert sum(proxy.seen[k] for k in ("drop", "cut", "status")) >= 10
