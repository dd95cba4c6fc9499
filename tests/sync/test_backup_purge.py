"""Purged means gone from the upgrade's backups too: the round that purges a submission's personal data once
the central has it purges it from every backup in ``<data_dir>/backups`` (gateway/upgrade.py). Before, the NIK
stayed in ``backups/anjungan-…-before-….db`` for good, and restoring one brought it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway import upgrade
from gateway.store import Store
from sync.client import SyncClient
from tests.sync.conftest import CentralHandle, fill

NIK = b"3517000000000001"  # the NIK that tests.sync.conftest.fill writes into every submission


def _holding_nik(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and NIK in p.read_bytes())


def test_the_round_that_purges_the_store_purges_the_backups(
    central: CentralHandle, store: Store, make_client: Callable[..., SyncClient]
) -> None:
    fill(store, submissions=3)
    client = make_client()
    backups = client.settings.data_dir / upgrade.BACKUP_FOLDER
    assert backups.parent == store.path.parent
    first = upgrade.backup_store(store.path, backups, "before-a")
    second = upgrade.backup_store(store.path, backups, "before-b")
    assert _holding_nik(backups) == sorted([first.name, second.name])  # not at the central yet: kept

    assert client.round().uploaded == 3
    assert central.seqs("submissions") == [1, 2, 3]
    assert _holding_nik(store.path.parent) == []  # the store purged them ...
    assert _holding_nik(backups) == []  # ... and so did every backup
    assert sorted(p.name for p in backups.iterdir()) == sorted([first.name, second.name])

    fill(store, submissions=1, start=3)  # a new one, not yet sent: a backup made now keeps it ...
    third = upgrade.backup_store(store.path, backups, "before-c")
    assert _holding_nik(backups) == [third.name]
    client.round()  # ... until the central has it
    assert central.seqs("submissions") == [1, 2, 3, 4]
    assert _holding_nik(backups) == []
