"""SIGKILL of ``anjungan sync now`` / ``sync run`` at chosen points: afterwards everything arrives exactly once.

Each trial starts a real sync process with ``ANJUNGAN_FAULT`` naming a fault point (see :mod:`gateway.faults`)
and the pass at which it dies; every trial really dies there, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from gateway import faults
from gateway.store import Store
from sync.client.uplink import STREAMS
from tests.sync.conftest import CentralHandle, fill, store_seqs, write_config
from tests.sync.test_cli import ANJUNGAN

REPO = Path(__file__).resolve().parents[2]

# (command, fault point, pass that dies, readings frames, events, submissions, documents published)
TRIALS: list[tuple[str, str, int, int, int, int, int]] = [
    ("now", "uplink.before_post", 1, 3000, 5, 2, 0),
    ("now", "uplink.answered", 1, 2000, 0, 1, 0),
    ("now", "uplink.acked", 1, 0, 0, 2, 0),
    ("now", "uplink.answered", 5, 3000, 10, 0, 0),
    ("run", "sync.round", 2, 1000, 3, 1, 0),
    ("now", "downlink.applied", 1, 500, 0, 0, 2),
    ("run", "uplink.answered", 3, 2500, 4, 2, 0),
    ("now", "uplink.acked", 7, 3000, 0, 0, 0),
    ("run", "uplink.before_post", 6, 1500, 20, 3, 1),
    ("now", "uplink.acked", 2, 1000, 2, 2, 0),
]


def _personal_left(store: Store) -> int:
    return int(
        store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NOT NULL").fetchone()[0]
    )


def _kill_at(config: Path, command: str, point: str, n: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), faults.ENV: f"{point}:{n}"}
    proc = subprocess.run([ANJUNGAN, "--config", str(config), "sync", command], env=env, timeout=120,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, (point, n, proc.returncode, proc.stderr[-2000:])


@pytest.mark.slow
def test_sigkill_at_chosen_points_loses_and_duplicates_nothing(
    store: Store, central: CentralHandle, tmp_path: Path, make_client
) -> None:
    config = write_config(tmp_path, central.url, central.gateway_id, central.secret, batch_max=400)
    fill(store, frames=6000, ratings=5)  # every stream has records to lose or duplicate (5: K, docs/skm.md)
    for trial, (command, point, n, frames, events, submissions, documents) in enumerate(TRIALS):
        fill(store, frames=frames, events=events, submissions=submissions, start=10_000 * (trial + 1))
        for i in range(documents):
            central.publish("announcement", f"crash-{trial}-{i}", {"title": f"Pengumuman {trial}.{i}"})
        _kill_at(config, command, point, n)
        if (point, n) == (
            "uplink.answered",
            1,
        ):  # submissions go first: the central has one the kiosk has not
            assert central.seqs("submissions")[-1] > store.acked("submissions")
        if (point, n) == ("uplink.acked", 1):  # acknowledged, killed before the purge: the next round purges
            assert store.acked("submissions") == store_seqs(store, "submissions")[-1]
            assert _personal_left(store) > 0
    make_client().run_once()
    for stream in STREAMS:
        assert central.seqs(stream) == store_seqs(store, stream), stream
        assert store.acked(stream) == store_seqs(store, stream)[-1]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _personal_left(store) == 0
    published = store.conn.execute("SELECT count(*) FROM content WHERE kind = 'announcement'").fetchone()[0]
    assert published >= sum(t[-1] for t in TRIALS)


def test_every_fault_point_is_passed_somewhere() -> None:
    sources = "".join(
        p.read_text() for part in ("gateway", "sync", "kiosk") for p in (REPO / part).rglob("*.py")
    )
    for name in faults.POINTS:
        assert f'faults.point("{name}")' in sources, name


def test_an_unknown_fault_point_is_refused() -> None:
    with pytest.raises(faults.ConfigError, match="nowhere:1"):
        faults._parse("nowhere:1")
    assert faults._parse("sync.round:2, uplink.acked:1") == {"sync.round": 2, "uplink.acked": 1}
