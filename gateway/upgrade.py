"""``anjungan upgrade``: bring the store to this release's schema without ever losing data.

1. Nothing to do when no migration is pending (the command is then read-only and creates nothing).
2. One upgrade at a time (an ``flock`` on ``<data_dir>/backups/.upgrade.lock``); what an upgrade killed midway
   left behind (``*.partial`` copies) is removed first, and a disk too full for the backup is named with what the
   backups folder holds.
3. A backup first, made with SQLite's online backup API (a consistent copy even while the services write), into
   ``<data_dir>/backups/``, checked with ``PRAGMA quick_check``; the last :data:`KEEP_BACKUPS` are kept.
4. Every pending migration in one transaction (:func:`gateway.store.db.migrate_all_or_nothing`): when one fails
   the store is left exactly as it was, so the previous release, still running, carries on with it.

Backups hold no personal data the store no longer holds (:func:`scrub_backups`): a citizen's personal data is
purged from the store once the central has it (``Store.purge_personal``), and "purged means gone" must hold for
the copies too, or restoring one would bring it back. A new backup is scrubbed before it is kept, and the sync
scrubs every backup after each round that purged something (sync/client/service.py), the same way the store
purges: ``secure_delete`` and a TRUNCATE checkpoint. A backup therefore only ever holds the personal data of
submissions the central does not have yet, which are exactly what a restore must not lose.

hardware/install-pi.sh runs this with the new release before it switches the services over to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway import private
from gateway.errors import AnjunganError, StoreError
from gateway.store import backups, db, readonly

log = logging.getLogger(__name__)

KEEP_BACKUPS = 3
BACKUP_FOLDER = "backups"  # under the data folder (`anjungan upgrade`, the sync's scrub)
LOCK_NAME = ".upgrade.lock"


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
    source = readonly.reader(store_path)
    try:
        private.create_file(partial)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
        backups.scrub(
            partial, backups.holding_personal(source)
        )  # what the store purged while the copy was made
        copy = sqlite3.connect(partial)
        try:
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


def scrub_backups(backup_dir: Path, holding: Collection[str]) -> int:
    """Purge from every backup in ``backup_dir`` the personal data of each submission not in ``holding`` (the
    uuids whose personal data the store still holds: :meth:`gateway.store.Store.holding_personal`), and the status lookups (a
    relayed lookup's code lives only until the kiosk has read the answer). Returns how many submissions lost
    their personal data; a missing folder is nothing to do (never created). Raises StoreError naming each
    backup that could not be scrubbed, after trying every one.
    """
    if not backup_dir.is_dir():
        return 0
    purged, failed = 0, []
    for backup in sorted(backup_dir.glob("anjungan-*.db")):
        try:
            purged += backups.scrub(backup, holding)
        except (sqlite3.Error, StoreError) as err:
            failed.append(f"{backup.name}: {err}")
    if failed:
        raise StoreError(f"personal data not yet purged from backups in {backup_dir}: {'; '.join(failed)}")
    return purged


@contextlib.contextmanager
def _one_upgrade_at_a_time(backup_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the backups folder's lock file; AnjunganError when another upgrade holds it."""
    private.ensure_dir(backup_dir)
    fd = os.open(backup_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, private.FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnjunganError(f"another `anjungan upgrade` is running on {backup_dir.parent}") from None
        yield
    finally:
        os.close(fd)


def _remove_partials(backup_dir: Path) -> int:
    """Remove the copies an upgrade killed midway left (``*.partial`` and their ``-wal``/``-shm``); the bytes
    freed. Only called under :func:`_one_upgrade_at_a_time`: no other upgrade is writing one."""
    freed = 0
    for stale in backup_dir.glob("*.partial*"):
        freed += stale.stat().st_size
        stale.unlink()
        log.warning("removed %s, left by an upgrade that did not finish", stale)
    return freed


def _backups_held(backup_dir: Path) -> str:
    """What the backups folder holds, for a "too little disk" message."""
    backups = sorted(backup_dir.glob("anjungan-*.db"))
    if not backups:
        return f"{backup_dir} holds no backup"
    sizes = ", ".join(f"{b.name} ({b.stat().st_size / 1e6:.0f} MB)" for b in backups)
    total = sum(b.stat().st_size for b in backups)
    return f"the backups in {backup_dir} take {total / 1e6:.0f} MB: {sizes} (the oldest can go)"


def upgrade(store_path: Path, backup_dir: Path) -> UpgradeResult:
    """Back up and migrate the store at ``store_path`` (see the module's docstring).

    Raises AnjunganError when there is no store, too little disk for the backup, or a migration fails (then
    the store is unchanged and the message names the backup and the migration).
    """
    store_path = Path(store_path)
    if not store_path.exists():
        raise AnjunganError(f"no store at {store_path} (run `anjungan init` first)")
    conn = readonly.reader(store_path)
    try:
        pending = db.pending_migrations(conn)
    finally:
        conn.close()
    if not pending:
        return UpgradeResult([], None)
    with _one_upgrade_at_a_time(backup_dir):
        return _upgrade(store_path, backup_dir, pending)


def _upgrade(store_path: Path, backup_dir: Path, pending: list[str]) -> UpgradeResult:
    _remove_partials(backup_dir)
    size = sum(p.stat().st_size for p in (store_path, Path(f"{store_path}-wal")) if p.exists())
    free = shutil.disk_usage(store_path.parent).free
    if free < 2 * size + (16 << 20):
        raise AnjunganError(
            f"too little disk for a backup before the upgrade: {free / 1e6:.0f} MB free, "
            f"{(2 * size + (16 << 20)) / 1e6:.0f} MB needed; {_backups_held(backup_dir)}; free some space and "
            "upgrade again (`anjungan upgrade`; on a Pi, run the new release's `hardware/install-pi.sh` again: "
            "until then the Pi keeps running the release it had)"
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
