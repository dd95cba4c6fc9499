"""The upgrade's backups: no personal data the store has purged, and nothing left behind by a killed upgrade.

Real stores and backups (SQLite files in tmp_path); each citizen's NIK is looked for in the raw bytes of every
file of the backups folder, as an attacker holding the SD card would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from gateway import upgrade
from gateway.store import Store, readonly

NIKS = [f"35170000000000{i:02d}".encode() for i in range(1, 4)]


def _submit(store: Store) -> list[str]:
    """Three submissions, each with its own NIK; their uuids."""
    uuids = []
    for nik in NIKS:
        record = store.add_submission("request", {"subject": "jadwal posyandu"},
                                      {"name": "Siti", "nik": nik.decode(), "phone": "0812000000"},
                                      gateway_id="dmk-uji", due_date=date(2030, 1, 1))  # fmt: skip
        uuids.append(record["uuid"])
    return uuids


def _niks_in(folder: Path) -> set[bytes]:
    found = set()
    for path in folder.iterdir():
        data = path.read_bytes()
        found |= {nik for nik in NIKS if nik in data}
    return found


def test_a_backup_loses_what_the_store_purges_and_keeps_what_it_still_holds(store: Store) -> None:
    uuids = _submit(store)
    backups = store.path.parent / upgrade.BACKUP_FOLDER
    backup = upgrade.backup_store(store.path, backups, "before-test")
    assert _niks_in(backups) == set(NIKS)  # none of them is at the central yet: the backup must keep them

    assert store.purge_personal(2) == 2  # the central acknowledged the first two
    holding = store.holding_personal()
    assert holding == {uuids[2]}
    assert upgrade.scrub_backups(backups, holding) == 2
    assert _niks_in(backups) == {NIKS[2]}  # not in the page, not in a -wal: the bytes are gone
    assert sorted(p.name for p in backups.iterdir()) == [backup.name]  # no -wal, -shm or copy left
    conn = readonly.reader(backup)
    try:
        rows = conn.execute(
            "SELECT uuid, personal IS NULL, purged_at IS NOT NULL FROM submissions ORDER BY seq"
        )
        assert [tuple(r) for r in rows] == [(uuids[0], 1, 1), (uuids[1], 1, 1), (uuids[2], 0, 0)]
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert upgrade.scrub_backups(backups, holding) == 0  # nothing more to do, nothing written


def test_a_new_backup_holds_nothing_the_store_purged_meanwhile(store: Store) -> None:
    _submit(store)
    store.purge_personal(3)
    backups = store.path.parent / upgrade.BACKUP_FOLDER
    upgrade.backup_store(store.path, backups, "before-test")
    assert _niks_in(backups) == set()


def test_without_a_backups_folder_nothing_is_created(tmp_path: Path) -> None:
    assert upgrade.scrub_backups(tmp_path / "backups", set()) == 0
    assert list(tmp_path.iterdir()) == []


def _pending_store(tmp_path: Path) -> tuple[Path, Path]:
    """A store one migration behind this release, and its configuration."""
    data = tmp_path / "data"
    with Store.open(data / "anjungan.db") as made:
        _submit(made)
        # undo the last migration (1000: two columns), as if this release had not run yet
        for statement in ("ALTER TABLE submissions DROP COLUMN due_kind",
                          "ALTER TABLE submissions DROP COLUMN attachments",
                          "DELETE FROM migrations WHERE name = '1000-submission-deadline-kind-attachments'"):  # fmt: skip
            made.conn.execute(statement)
    config = tmp_path / "anjungan.toml"
    config.write_text(f'[gateway]\nid = "dmk-uji"\ndata_dir = "{data}"\n[mqtt]\nhost = ""\n')
    return config, data / "anjungan.db"


def _anjungan(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    return subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), *argv], capture_output=True,
                          text=True, timeout=120, env=env, cwd=config.parent)  # fmt: skip


def test_the_next_upgrade_removes_what_a_killed_one_left(tmp_path: Path) -> None:
    """An upgrade killed while it copied (kill -9, a power cut) leaves a full-size ``*.partial``; before, it stayed
    for good and five of them made every later upgrade refuse for lack of disk without naming them."""
    config, store = _pending_store(tmp_path)
    backups = store.parent / upgrade.BACKUP_FOLDER
    backups.mkdir(mode=0o700)
    for stamp in ("20261101T000000Z", "20261102T000000Z"):
        shutil.copyfile(store, backups / f"anjungan-{stamp}-before-x.db.partial")
        shutil.copyfile(store, backups / f"anjungan-{stamp}-before-x.db.partial-wal")
    done = _anjungan(config, "upgrade")
    assert done.returncode == 0, done.stderr
    left = sorted(p.name for p in backups.iterdir() if not p.name.startswith("."))
    assert len(left) == 1 and left[0].endswith(".db") and ".partial" not in left[0]
    assert done.stderr.count("left by an upgrade that did not finish") == 4


def test_too_little_disk_names_what_the_backups_hold(tiny_disk: Path) -> None:
    """On a real 2 MiB disk: the message says which backups take the space (the oldest can go), not only how
    much is missing; a stale partial copy is removed before the space is counted."""
    config, store = _pending_store(tiny_disk)
    backups = store.parent / upgrade.BACKUP_FOLDER
    backups.mkdir(mode=0o700)
    kept = backups / "anjungan-20261101T000000Z-before-x.db"
    shutil.copyfile(store, kept)
    shutil.copyfile(store, backups / "anjungan-20261102T000000Z-before-x.db.partial")
    done = _anjungan(config, "upgrade")
    assert done.returncode == 1
    text = done.stderr.strip().splitlines()[-1]
    assert text.startswith("anjungan: too little disk for a backup before the upgrade: ")
    assert (
        f"the backups in {backups} take " in text
        and f"{kept.name} (" in text
        and "(the oldest can go)" in text
    )
    assert "run the new release's `hardware/install-pi.sh` again" in text
    assert not list(backups.glob("*.partial*"))
