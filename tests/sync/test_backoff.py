"""Full-jitter exponential backoff and Retry-After."""

from __future__ import annotations

import random

from sync.client.backoff import Backoff
from sync.client.transport import retry_after_s


def test_delays_are_jittered_below_a_doubling_ceiling_up_to_the_cap():
    backoff = Backoff(base_s=1.0, cap_s=900.0, rng=random.Random(1))
    ceilings = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered: a regency's kiosks do not retry in step


def test_retry_after_is_a_floor_but_capped():
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(2))
    assert backoff.next_delay(retry_after=30) >= 30
    assert backoff.next_delay(retry_after=86_400) == 60


def test_reset_after_success():
    backoff = Backoff(base_s=1.0, cap_s=900.0)
    for _ in range(20):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_retry_after_header_forms():
    assert retry_after_s("120") == 120.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    assert 0 <= retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
