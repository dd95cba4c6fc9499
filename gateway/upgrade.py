"""``anjungan upgrade``: bring the store to this release's schema without ever losing data.

1. Nothing to do when no migration is pending (the command is then read-only and creates nothing).
2. A backup first, made with SQLite's online backup API (a consistent copy even while the services write), into
   ``<data_dir>/backups/``, checked with ``PRAGMA quick_check``; the last :data:`KEEP_BACKUPS` are kept.
3. Every pending migration in one transaction (:func:`gateway.store.db.migrate_all_or_nothing`): when one fails
   the store is left exactly as it was, so the previous release, still running, carries on with it.

hardware/install-pi.sh runs this with the new release before it switches the services over to it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from gateway import private
from gateway.errors import AnjunganError, StoreError
from gateway.store import db

KEEP_BACKUPS = 3


@dataclass
class UpgradeResult:
    applied: list[str]
    backup: Path | None


def backup_store(store_path: Path, backup_dir: Path, label: str) -> Path:
    """A consistent copy of the store at ``store_path`` in ``backup_dir`` (0600), checked; returns its path.

    Uses sqlite3's ``Connection.backup`` (SQLite's online backup API), so writers may go on meanwhile. Raises
    StoreError when the copy cannot be made or fails its integrity check (a half-written copy is removed).
    """
    private.ensure_dir(backup_dir)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = backup_dir / f"anjungan-{stamp}-{label}.db"
    partial = target.with_suffix(".db.partial")
    source = db.connect(store_path, readonly=True)
    try:
        private.create_file(partial)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            check = [row[0] for row in copy.execute("PRAGMA quick_check")]
        finally:
            copy.close()
        if check != ["ok"]:
            raise StoreError(f"the backup {target} fails its integrity check: {'; '.join(check[:3])}")
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as err:
        raise StoreError(f"cannot back up the store to {target}: {err}") from err
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    _prune(backup_dir)
    return target


def _prune(backup_dir: Path) -> None:
    for old in sorted(backup_dir.glob("anjungan-*.db"))[:-KEEP_BACKUPS]:
        old.unlink()


def upgrade(store_path: Path, backup_dir: Path) -> UpgradeResult:
    """Back up and migrate the store at ``store_path`` (see the module's docstring).

    Raises AnjunganError when there is no store, too little disk for the backup, or a migration fails (then
    the store is unchanged and the message names the backup and the migration).
    """
    store_path = Path(store_path)
    if not store_path.exists():
        raise AnjunganError(f"no store at {store_path} (run `anjungan init` first)")
    conn = db.connect(store_path, readonly=True)
    try:
        pending = db.pending_migrations(conn)
    finally:
        conn.close()
    if not pending:
        return UpgradeResult([], None)
    size = sum(p.stat().st_size for p in (store_path, Path(f"{store_path}-wal")) if p.exists())
    free = shutil.disk_usage(store_path.parent).free
    if free < 2 * size + (16 << 20):
        raise AnjunganError(
            f"too little disk for a backup before the upgrade: {free / 1e6:.0f} MB free, "
            f"{2 * size / 1e6:.0f} MB needed; free some space and run `anjungan upgrade` again"
        )
    backup = backup_store(store_path, backup_dir, f"before-{pending[-1]}")
    conn = db.connect(store_path)
    try:
        applied = db.migrate_all_or_nothing(conn)
    except StoreError as err:
        raise AnjunganError(
            f"{err}; the store is unchanged (a backup is at {backup}); the previous release keeps running"
        ) from err
    finally:
        conn.close()
    return UpgradeResult(applied, backup)
