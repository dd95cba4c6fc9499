"""SIGKILL of ``anjungan sync now`` / ``sync run`` at random points: afterwards everything arrives exactly once."""

from __future__ import annotations

import random
import subprocess
import time

import pytest

from sync.client.uplink import STREAMS
from tests.sync.conftest import fill, store_seqs
from tests.sync.test_cli import ANJUNGAN

TRIALS = 15


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(store, central, gateway_config, make_client):
    rng = random.Random(20260)
    fill(store, frames=6000)
    killed = 0
    for trial in range(TRIALS):
        fill(store, frames=rng.randint(0, 3000), events=rng.randint(0, 20), submissions=rng.randint(0, 3),
             start=10_000 * (trial + 1))  # fmt: skip
        command = "run" if trial % 3 == 2 else "now"
        proc = subprocess.Popen([ANJUNGAN, "--config", str(gateway_config), "sync", command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.2, 1.5))
        if proc.poll() is None:
            proc.kill()
            killed += 1
        proc.wait(10)
    assert killed >= TRIALS // 2  # most trials really died mid-way
    make_client().run_once()
    for stream in STREAMS:
        assert central.seqs(stream) == store_seqs(store, stream), stream
        assert store.acked(stream) == store_seqs(store, stream)[-1]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (
        store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NOT NULL").fetchone()[0] == 0
    )
