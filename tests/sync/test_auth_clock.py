"""Signatures and the clock, client side: refusals said in plain words, the clock learned and corrected."""

from __future__ import annotations

import time

import pytest

from sync.client import ClockSkewRefused, CredentialError
from sync.client import clock as clock_mod
from sync.client.transport import CREDENTIALS_HINT, CentralLink
from tests.fixtures.faultproxy import Fault, fault_proxy
from tests.sync.conftest import fill, store_seqs


def test_wrong_secret_is_a_credential_problem(store, central, make_client):
    fill(store, events=2)
    with pytest.raises(CredentialError) as info:
        make_client(secret="not-the-secret").run_once()
    assert str(info.value) == CREDENTIALS_HINT
    assert store.backlog()["events"]["last_error"] == CREDENTIALS_HINT
    assert central.seqs("events") == []


def test_tampered_request_is_refused(store, central, make_client):
    fill(store, events=2)
    with fault_proxy((central.host, central.port)) as proxy:
        proxy.add(Fault("tamper", match="/batches"))
        with pytest.raises(CredentialError, match=r"check \[central\] gateway_id and secret"):
            make_client(url=proxy.url).run_once(attempts=1)
    assert central.seqs("events") == []


def test_stale_request_is_refused_with_the_central_time(central):
    stale = CentralLink(central.url, central.gateway_id, central.secret, now=lambda: time.time() - 400)
    with stale, pytest.raises(ClockSkewRefused) as info:
        stale.get_json("/api/v1/changes?since=")
    assert info.value.server_time == pytest.approx(time.time(), abs=5)
    assert "clock" in str(info.value)


def test_skew_refusal_corrects_the_clock_and_retries(store, central, make_client):
    central.clock.skew_s = 1000.0
    clock_mod.Clock(store).set(0)  # believed good, but wrong
    fill(store, events=3)
    make_client().run_once(attempts=1)
    assert central.seqs("events") == store_seqs(store, "events")
    assert store.clock_offset() == pytest.approx(1_000_000, abs=2000)


def test_clock_offset_learned_from_the_round_trip_midpoint(store, central, make_client):
    central.clock.skew_s = -120.0
    result = make_client().run_once()
    assert result.clock_offset_ms == pytest.approx(-120_000, abs=200)
    assert store.clock_offset() == result.clock_offset_ms
    assert store.get_meta("clock_checked_at") is not None
    store.add_event("after-clock", {})
    assert store.events(kind="after-clock")[0]["offset"] == result.clock_offset_ms


def test_clock_not_trusted_over_a_slow_link(store, central, make_client, monkeypatch):
    monkeypatch.setattr(clock_mod, "MAX_RTT_S", 0.05)
    fill(store, events=1)
    with fault_proxy((central.host, central.port)) as proxy:
        for _ in range(clock_mod.SAMPLES):
            proxy.add(Fault("delay", match="/time", delay_s=0.1))
        result = make_client(url=proxy.url).run_once()
    assert store.clock_offset() is None
    assert "not trusted" in result.errors[0]
    assert central.seqs("events") == store_seqs(store, "events")  # the uplink does not wait for the clock
