"""A full disk: submissions fail with StoreFullError and a clear message, the reading writer holds its frames
until space returns; everything stored stays intact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import StoreError, StoreFullError
from gateway.store import Store
from tests.fixtures.disk import fill
from tests.gateway.helpers import readings
from tests.ingest.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]


def _assert_intact(store: Store, frames: int) -> None:
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = list(store.readings())
    assert len(rows) == frames * 2
    assert sorted({r["seq"] for r in rows}) == list(range(frames))


def _add_submission(store: Store, text: str = "Jalan desa rusak") -> dict[str, object]:
    return store.add_submission("complaint", {"isi": text}, {"nik": "3301"}, gateway_id="k", due_date=None)


def test_max_page_count_full(store: Store) -> None:
    """The reading writer holds what it cannot save (never acknowledged, never dropped); a citizen's
    submission is refused at once with the plain message; nothing stored is damaged."""
    writer = store.writer()
    writer.write(readings(500))
    _add_submission(store)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    writer._conn.execute(f"PRAGMA max_page_count = {pages}")  # the writer is idle: its connection is free
    store.durable_conn.execute(f"PRAGMA max_page_count = {pages}")

    future = writer.submit(readings(5000, start=500))
    wait_for(lambda: writer.stalled is not None, what="the writer to stall")
    assert writer.stalled is not None and "disk is full" in writer.stalled
    assert "already saved is intact" in writer.stalled
    assert not future.done()  # held: not acknowledged, not dropped
    with pytest.raises(StoreFullError, match="disk is full"):
        _add_submission(store, "x" * 50_000)  # needs new pages

    _assert_intact(store, 500)
    assert store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    writer.close()  # stopped while the disk is full: what it held was never acknowledged
    with pytest.raises(StoreError, match="closed before saving"):
        future.result(0)
    _assert_intact(store, 500)


def test_real_full_disk_stalls_then_recovers_by_itself(tiny_disk: Path) -> None:
    """On a real full disk the writer holds the frames and saves them, each once, as soon as space returns."""
    with Store.open(tiny_disk / "data" / "anjungan.db") as store:
        writer = store.writer()
        spare = tiny_disk / "spare"
        spare.write_bytes(b"\0" * (256 << 10))  # what an operator deletes later to free space
        saved, start = 0, 0
        while True:  # fill the disk with readings until the writer cannot save any more
            future = writer.submit(readings(100, start=start))
            start += 100
            wait_for(lambda f=future: f.done() or writer.stalled is not None, what="a commit or a stall")
            if not future.done():
                break
            saved += future.result()
        assert saved > 0 and writer.stalled is not None and "disk is full" in writer.stalled
        later = writer.submit(readings(100, start=start))  # frames keep arriving while the disk is full
        start += 100
        with pytest.raises(StoreFullError, match="disk is full"):
            _add_submission(store, "x" * 50_000)
        _assert_intact(store, saved)
        assert not future.done() and not later.done()

        spare.unlink()  # space returns: no restart, no call, the writer carries on by itself
        assert future.result(30) == 100 and later.result(30) == 100
        assert writer.stalled is None
        _assert_intact(store, start)
    with Store.open(tiny_disk / "data" / "anjungan.db") as again:  # reopened: everything there, once
        _assert_intact(again, start)


def _anjungan(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_shows_a_full_disk_as_one_line(tiny_disk: Path, tmp_path: Path) -> None:
    fill(tiny_disk)
    config = tmp_path / "anjungan.toml"
    result = _anjungan("--config", str(config), "init", "--data-dir", str(tiny_disk / "data"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "disk is full" in result.stderr and "Traceback" not in result.stderr


def test_store_errors_are_store_errors() -> None:
    assert issubclass(StoreFullError, StoreError)
