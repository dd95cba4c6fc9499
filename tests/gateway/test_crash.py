"""Crash test: SIGKILL a writer mid-stream, after a chosen number of acknowledgements; every acknowledged reading is stored, none twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store import Store

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
TRIALS = 20


def _run_and_kill(store_path: Path, boot: int, acks_before_kill: int) -> list[tuple[int, int]]:
    """Run the writer child, SIGKILL it once it has acknowledged ``acks_before_kill`` keys (it never stops by
    itself, so the kill always lands mid-stream); return every key it acknowledged."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(store_path), str(boot)], cwd=REPO, env=env, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    seen = b"".join(proc.stdout.readline() for _ in range(acks_before_kill))
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # it never stops by itself: the kill came mid-stream
    out = seen + rest
    lines = out.decode().splitlines()
    if lines and not out.endswith(b"\n"):
        lines.pop()  # a key half written when the kill came was never fully acknowledged
    return [(int(b), int(q)) for b, q in (line.split() for line in lines)]


@pytest.mark.slow
def test_acknowledged_readings_survive_sigkill(tmp_path: Path) -> None:
    rng = random.Random(1234)
    store_path = tmp_path / "data" / "anjungan.db"
    Store.open(store_path).close()
    acknowledged: list[tuple[int, int]] = []
    for boot in range(TRIALS):
        acknowledged += _run_and_kill(store_path, boot, rng.randint(1, 600))
    assert len(acknowledged) >= TRIALS * 10, "the child acknowledged too little to prove anything"
    with Store.open(store_path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_key: dict[tuple[int, int], tuple[int, int]] = {}
        for b, q, count, readings in store.conn.execute(
            "SELECT f.boot, f.q, count(*), coalesce(sum(r.n), 0) FROM frames f "
            "JOIN nodes n ON n.id = f.node_id AND n.node = 'crash' "
            "LEFT JOIN (SELECT frame_id, count(*) AS n FROM readings GROUP BY frame_id) r ON r.frame_id = f.id "
            "GROUP BY f.boot, f.q"
        ):
            per_key[(b, q)] = (count, readings)
        missing = [key for key in acknowledged if key not in per_key]
        assert not missing, f"{len(missing)} acknowledged frames lost, e.g. {missing[:5]}"
        assert all(count == 1 for count, _ in per_key.values())
        assert all(readings == 4 for _, readings in per_key.values()), "a frame lost some of its readings"
        rows = store.conn.execute(
            "SELECT count(*), count(DISTINCT f.boot || '/' || f.q || '/' || r.name_id) FROM readings r "
            "JOIN frames f ON f.id = r.frame_id"
        ).fetchone()
        assert rows[0] == rows[1] == 4 * len(per_key)  # no reading stored twice
