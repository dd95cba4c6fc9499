"""``anjungan node monitor`` beside a running ingest: monitoring a node never costs a reading.

A simulated board (the project's firmware on a real pty) sends a frame every second; the ingest reads it in
its own process; monitor sessions come and go on the same port, by a relative and by an absolute path.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from gateway.store import Store
from tests.ingest.helpers import REPO, anjungan, frame_keys, stop, wait_for

NODE = "sim-mon-01"
SHOWN = re.compile(rf"^\d\d:\d\d:\d\d {NODE} #(\d+)/(\d+) ", re.M)


def _shown(log: Path) -> list[tuple[int, int]]:
    return [(int(b), int(q)) for b, q in SHOWN.findall(log.read_text())]


def _start_board(tmp_path: Path, config: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), "node", "simulate", "--node-id", NODE,
         "--interval", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_monitor_sessions_beside_the_ingest_lose_no_reading(tmp_path: Path, config_file: Path) -> None:
    board, link = _start_board(tmp_path, config_file)
    ingest_log = tmp_path / "ingest.log"
    ingest = anjungan("--config", str(config_file), "ingest", "--serial", str(link), log=ingest_log)
    try:
        wait_for(lambda: f"serial {link}: open" in ingest_log.read_text(), timeout=30, what="the ingest")
        with Store.open(tmp_path / "data" / "anjungan.db") as store:
            wait_for(lambda: len(frame_keys(store, NODE)) >= 2, timeout=30, what="the first frames")
            shown: set[tuple[int, int]] = set()
            # hand-overs by a relative path (from the link's folder) and by an absolute one, in turn
            for session in range(6):
                relative = session % 2 == 0
                log = tmp_path / f"monitor-{session}.log"
                port = link.name if relative else str(link)
                proc = anjungan("--config", str(config_file), "node", "monitor", "--port", port, log=log,
                                cwd=link.parent if relative else tmp_path)  # fmt: skip
                try:
                    wait_for(lambda log=log: len(_shown(log)) >= 2, timeout=30, what="two frames shown")  # type: ignore[misc]
                finally:
                    assert stop(proc, signal.SIGINT) == 0, log.read_text()
                shown |= set(_shown(log))
            last = max(q for _boot, q in shown)
            # the ingest goes on after the last session
            wait_for(lambda: max(q for _n, _b, q in frame_keys(store, NODE)) >= last + 3, timeout=30,
                     what="frames after the last session")  # fmt: skip
            keys = frame_keys(store, NODE)
    finally:
        assert stop(ingest, signal.SIGTERM) == 0, ingest_log.read_text()
        board.send_signal(signal.SIGTERM)
        board.communicate(timeout=20)
    boots = {boot for _n, boot, _q in keys}
    assert len(boots) == 1, keys
    stored = [q for _n, _b, q in keys]
    missing = sorted(set(range(stored[0], stored[-1] + 1)) - set(stored))
    assert missing == [], f"frames missing from the store: q {missing}"
    assert {(boot, q) for boot, q in shown} <= {(b, q) for _n, b, q in keys}  # what was shown is stored
    assert len(shown) >= 12
