"""Purged means gone, even when another process holds a read snapshot at the purge: the TRUNCATE checkpoint
that a reader held up is owed (meta ``checkpoint_owed``) and paid by the next round, or by the idle loop of
``sync run``, once the reader lets go. The NIK is looked for in the raw bytes of the store's files."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.store import Store, db
from sync.client import SyncClient
from tests.gateway.helpers import SnapshotHolder
from tests.sync.conftest import CentralHandle, fill

NIK = b"3517000000000001"  # the NIK that tests.sync.conftest.fill writes into every submission


def _holding_nik(store: Store) -> list[str]:
    out = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{store.path}{suffix}")
        if path.exists() and NIK in path.read_bytes():
            out.append(path.name)
    return out


def test_the_next_round_finishes_a_purge_a_reader_held_up(
    central: CentralHandle, store: Store, make_client: Callable[..., SyncClient]
) -> None:
    fill(store, submissions=3)
    client = make_client()
    with SnapshotHolder(store.path) as reader:
        assert client.round().uploaded == 3  # acknowledged and purged, but the reader is in the way
        assert central.seqs("submissions") == [1, 2, 3]
        purged = store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NULL").fetchone()
        assert purged == (3,)
        assert _holding_nik(store) == ["anjungan.db-wal"]
        reader.release()
    client.round()  # nothing new to purge: it pays the checkpoint still owed
    assert _holding_nik(store) == []
    assert not db.checkpoint_owed(store.conn)


def test_the_idle_loop_finishes_a_purge_a_reader_held_up(
    central: CentralHandle, store: Store, make_client: Callable[..., SyncClient]
) -> None:
    fill(store, submissions=2)
    stop = threading.Event()
    idle = threading.Event()

    def sleep(seconds: float) -> None:  # the loop's own sleep, telling the test that it is idle
        idle.set()
        stop.wait(seconds)

    client = make_client(stop=stop, sleep=sleep)
    client.settings.interval_s = 3600  # no second round: only the idle loop can pay the checkpoint
    loop = threading.Thread(target=client.run_forever, name="sync-run")
    try:
        with SnapshotHolder(store.path) as reader:
            loop.start()
            assert idle.wait(30), "the first round did not end"
            assert central.seqs("submissions") == [1, 2]
            assert _holding_nik(store) == ["anjungan.db-wal"]
            reader.release()
        deadline = time.monotonic() + 30
        while _holding_nik(store) and time.monotonic() < deadline:
            stop.wait(0.1)
        assert _holding_nik(store) == []
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive()
