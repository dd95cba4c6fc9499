"""A full disk: writes fail with StoreFullError and a clear message; everything stored stays intact."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import StoreError, StoreFullError
from gateway.store import Store
from tests.gateway.helpers import readings

REPO = Path(__file__).resolve().parents[2]


def _assert_intact(store: Store, frames: int) -> None:
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = list(store.readings())
    assert len(rows) == frames * 2
    assert sorted({r["seq"] for r in rows}) == list(range(frames))


def _add_submission(store: Store, text: str = "Jalan desa rusak") -> dict[str, object]:
    return store.add_submission("complaint", {"isi": text}, {"nik": "3301"}, gateway_id="k", due_date=None)


def test_max_page_count_full(store: Store) -> None:
    writer = store.writer()
    writer.write(readings(500))
    _add_submission(store)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    writer._conn.execute(f"PRAGMA max_page_count = {pages}")
    store.durable_conn.execute(f"PRAGMA max_page_count = {pages}")

    future = writer.submit(readings(5000, start=500))
    with pytest.raises(StoreFullError, match="disk is full") as caught:
        future.result(10)
    assert "already saved is intact" in str(caught.value)
    with pytest.raises(StoreFullError, match="disk is full"):
        _add_submission(store, "x" * 50_000)  # needs new pages

    _assert_intact(store, 500)
    assert store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    writer._conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: saving works again
    assert writer.write(readings(10, start=500)) == 10


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs mounted in tmp_path (needs root); unmounted afterwards."""
    if os.geteuid() != 0:
        if os.environ.get("ANJUNGAN_TEST_NO_ROOT") == "1":
            pytest.skip(
                "not root: the real full-disk test needs to mount a tmpfs (ANJUNGAN_TEST_NO_ROOT=1 set)"
            )
        pytest.fail(
            "the real full-disk test must run as root (it mounts a tmpfs); set ANJUNGAN_TEST_NO_ROOT=1 to skip"
        )
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_real_full_disk(tiny_disk: Path) -> None:
    with Store.open(tiny_disk / "data" / "anjungan.db") as store:
        writer = store.writer()
        saved = 0
        with pytest.raises(StoreFullError, match="disk is full"):
            for start in range(0, 1_000_000, 100):
                writer.write(readings(100, start=start))
                saved += 100
        assert saved > 0
        with pytest.raises(StoreFullError, match="disk is full"):
            _add_submission(store, "x" * 50_000)
        _assert_intact(store, saved)
    with Store.open(tiny_disk / "data" / "anjungan.db") as again:  # reopened on the full disk: still readable
        _assert_intact(again, saved)


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
    fd = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # the disk is full
    finally:
        os.close(fd)
    config = tmp_path / "anjungan.toml"
    result = _anjungan("--config", str(config), "init", "--data-dir", str(tiny_disk / "data"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "disk is full" in result.stderr and "Traceback" not in result.stderr


def test_store_errors_are_store_errors() -> None:
    assert issubclass(StoreFullError, StoreError)
