"""The sync's pauses: full-jitter exponential backoff (gateway.backoff) and the central's Retry-After."""

from __future__ import annotations

import random

from gateway.backoff import Backoff
from sync.client import Settings, SyncClient
from sync.client.transport import retry_after_s


def test_delays_are_jittered_below_a_doubling_ceiling_up_to_the_cap():
    backoff = Backoff(1.0, 900.0, jitter=True, rng=random.Random(1))
    ceilings = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    delays = [backoff.next() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered: a regency's kiosks do not retry in step


def test_retry_after_is_a_floor_but_capped():
    backoff = Backoff(1.0, 60.0, jitter=True, rng=random.Random(2))
    assert backoff.next(retry_after_s=30) >= 30
    assert backoff.next(retry_after_s=86_400) == 60


def test_reset_after_success():
    backoff = Backoff(1.0, 900.0, jitter=True)
    for _ in range(20):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 1.0


def test_retry_after_header_forms():
    assert retry_after_s("120") == 120.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    assert 0 <= retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_the_sync_client_pauses_with_full_jitter_between_its_configured_figures(store) -> None:  # type: ignore[no-untyped-def]
    settings = Settings("http://127.0.0.1:9", "gw-a", "x" * 43, store.path.parent, backoff_base_s=2.0,
                        backoff_cap_s=40.0)  # fmt: skip
    with SyncClient(store, settings) as client:
        assert (client.backoff.base_s, client.backoff.cap_s, client.backoff.jitter) == (2.0, 40.0, True)
        delays = [client.backoff.next() for _ in range(8)]
    assert all(0 <= d <= c for d, c in zip(delays, [2, 4, 8, 16, 32, 40, 40, 40], strict=True))
