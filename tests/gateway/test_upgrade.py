"""``anjungan upgrade`` on a store made by the previous release (a5f1614) with real data in every table.

The old store is made by the old release's own code, taken from git history (`git archive`) and run in a
subprocess (tests/gateway/old_release_store.py); the upgrade is the real command in another subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store import Store
from gateway.store.schema import MIGRATIONS
from tests.gateway.helpers import reading

REPO = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "a5f1614"
FILLER = Path(__file__).with_name("old_release_store.py")


@pytest.fixture(scope="module")
def old_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "archive", PREVIOUS_RELEASE, "gateway"], cwd=REPO, capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _old_store(old_code: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    data = tmp_path / "data"
    store = data / "anjungan.db"
    data.mkdir(mode=0o700)
    made = subprocess.run([sys.executable, str(FILLER), str(old_code), str(store)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    counts = json.loads(made.stdout.splitlines()[-1])
    assert all(counts[t] > 0 for t in counts), counts  # real data in every table
    config = tmp_path / "anjungan.toml"
    config.write_text(f'[gateway]\nid = "dmk-uji"\ndata_dir = "{data}"\n[mqtt]\nhost = ""\n')
    return config, store, counts


def _anjungan(
    config: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    return subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), *argv], capture_output=True,
                          text=True, timeout=120, env={**clean, **(env or {})}, cwd=config.parent)  # fmt: skip


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _old_release_reads(old_code: Path, store: Path) -> int:
    """The previous release opens the store and counts its readings (what a still-running old ingest does)."""
    script = (f"import sys; sys.path.insert(0, {str(old_code)!r}); from gateway.store import Store; "
              f"s = Store.open({str(store)!r}); print(len(list(s.readings()))); s.close()")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_upgrade_keeps_every_row_and_backs_up_first(old_code: Path, tmp_path: Path) -> None:
    config, store, counts = _old_store(old_code, tmp_path)
    before = _dump(store)

    done = _anjungan(config, "upgrade")
    assert done.returncode == 0, done.stderr
    assert "migrated: 0400-status-codes, 0700-latest-node-order" in done.stdout
    backups = sorted((store.parent / "backups").glob("anjungan-*.db"))
    assert len(backups) == 1 and oct(backups[0].stat().st_mode & 0o777) == "0o600"
    assert _dump(backups[0]) == before  # the backup is the store as the previous release left it

    conn = sqlite3.connect(store)
    for table, count in counts.items():
        if table != "migrations":
            assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == count, table
    applied = [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]
    # the frame keys the old store held (q 0..5 of boot 1) became one interval; the unique index is gone
    assert conn.execute("SELECT boot, low, high FROM frames_seen").fetchall() == [(1, 0, 5)]
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'frames_key'").fetchone()[0] == 0
    conn.close()
    rows = _anjungan(config, "readings", "--node", "dmk-wl-01").stdout.splitlines()
    assert len(rows) == 10 and json.loads(rows[0])["name"] in ("water_cm", "temp_c")
    with Store.open(store) as upgraded:  # a frame of the old store sent again is not stored twice
        writer = upgraded.writer()
        assert writer.write([reading(seq=3), reading(seq=6)]) == 1
        assert upgraded.conn.execute("SELECT count(*) FROM frames").fetchone()[0] == counts["frames"] + 1

    again = _anjungan(config, "upgrade")
    assert again.returncode == 0 and "is up to date" in again.stdout
    assert len(list((store.parent / "backups").glob("anjungan-*.db"))) == 1  # nothing to do: no new backup


def test_no_command_but_upgrade_migrates_the_store(old_code: Path, tmp_path: Path) -> None:
    """Read-only commands and the technician's tools refuse an old store in one line; only `anjungan upgrade`
    migrates it, after its backup (before, `sync status` migrated it silently and `upgrade` had nothing left to
    back up)."""
    config, store, _counts = _old_store(old_code, tmp_path)
    before = _dump(store)
    central = {"ANJUNGAN_CENTRAL_URL": "http://127.0.0.1:9", "ANJUNGAN_CENTRAL_GATEWAY_ID": "dmk-uji",
               "ANJUNGAN_CENTRAL_SECRET": "s"}  # fmt: skip
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    pending = len(MIGRATIONS) - conn.execute("SELECT count(*) FROM migrations").fetchone()[0]
    conn.close()
    refusal = (f"anjungan: the store {store} needs an upgrade ({pending} migration(s) pending): run "
               "`anjungan upgrade` (it backs the store up first)")  # fmt: skip
    for argv in (["readings"], ["node", "list"], ["sync", "status"], ["sync", "dead-letters", "list"],
                 ["sync", "dead-letters", "retry"], ["sync", "now"]):  # fmt: skip
        done = _anjungan(config, *argv, env=central)
        assert (done.returncode, done.stderr.strip()) == (1, refusal), argv
    doctor = _anjungan(config, "doctor")
    assert (
        doctor.returncode == 1
        and f"the store needs an upgrade ({pending} migrations pending)" in doctor.stdout
    )
    assert _dump(store) == before
    done = _anjungan(config, "upgrade")
    assert done.returncode == 0 and "backed up the store" in done.stdout, done.stderr


def test_a_failed_migration_leaves_the_store_untouched_for_the_previous_release(
    old_code: Path, tmp_path: Path
) -> None:
    config, store, _counts = _old_store(old_code, tmp_path)
    # something the previous release never made, in the way of a migration's CREATE TABLE
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE status_lookups (note TEXT)")
    before = _dump(store)

    done = _anjungan(config, "upgrade")
    assert done.returncode == 1
    assert "migration 0400-status-codes failed" in done.stderr
    assert "the store is unchanged" in done.stderr and "backups/anjungan-" in done.stderr
    assert _dump(store) == before
    assert _old_release_reads(old_code, store) == 10  # the previous release carries on with it


def test_a_crash_in_the_middle_of_the_migrations_rolls_all_of_them_back(
    old_code: Path, tmp_path: Path
) -> None:
    config, store, _counts = _old_store(old_code, tmp_path)
    before = _dump(store)
    # killed (SIGKILL, as a power cut) when the first migration is applied and the second about to be
    done = _anjungan(config, "upgrade", env={"ANJUNGAN_FAULT": "store.migration:2"})
    assert done.returncode == -signal.SIGKILL
    assert _dump(store) == before
    assert _old_release_reads(old_code, store) == 10
    assert _anjungan(config, "upgrade").returncode == 0
