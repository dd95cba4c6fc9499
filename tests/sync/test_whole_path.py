"""The whole path, on a SQLite and on a PostgreSQL central: frames on a real pty (with noise and repeats) ->
serial reader -> store -> uplink -> central, plus citizens' submissions; everything arrives exactly once."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from gateway.backoff import Backoff
from gateway.frame import reading_line
from gateway.ingest.serial_reader import SerialReader
from gateway.ingest.sink import FrameSink
from gateway.store import Store
from sync.central.db import STREAM_TABLES
from sync.client import SyncClient
from tests.ingest.helpers import wait_for, write_all
from tests.sync.conftest import CentralHandle

FRAMES = 400


def test_pty_to_central_exactly_once(
    central: CentralHandle, store: Store, pty_pair: tuple[int, str], make_client: Callable[..., SyncClient]
) -> None:
    master, port = pty_pair
    rng = random.Random(7)
    lines = [
        reading_line(f"wp-{i % 4}", 2, i // 4, {"water_cm": 100 + i % 9 / 2, "temp_c": 27.5})
        for i in range(FRAMES)
    ]
    stream = []
    for line in lines:
        stream.append(line)
        if rng.random() < 0.2:
            stream.append(bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80))) + b"\n")  # noise
        if rng.random() < 0.1:
            stream.append(line)  # a repeat: stored once
    reader = SerialReader(port, FrameSink(store.writer(), port), backoff=Backoff(0.1, 1.0)).start()
    try:
        wait_for(reader.is_open.is_set, what="the pty to open")
        write_all(master, b"".join(stream))
        wait_for(
            lambda: store.conn.execute("SELECT count(*) FROM frames").fetchone()[0] >= FRAMES, 30, "frames"
        )
    finally:
        reader.close()
    for i in range(5):
        store.add_submission("complaint", {"judul": f"#{i}"}, {"nama": "Warga"}, gateway_id="wp", due_date=None,
                             day=date(2026, 11, 28))  # fmt: skip

    client = make_client()
    for _ in range(20):
        client.round()
        if all(info["pending"] == 0 for info in store.backlog().values()):
            break
    assert all(info["pending"] == 0 and info["dead_letters"] == 0 for info in store.backlog().values())

    table = STREAM_TABLES["readings"]
    with central.state.engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.gateway_id == central.gateway_id)).mappings().all()
    keys = Counter((r["node"], r["boot"], r["q"], r["name"]) for r in rows)
    assert len(keys) == FRAMES * 2 and set(keys.values()) == {1}
    assert sorted(central.seqs("readings")) == list(range(1, FRAMES * 2 + 1))
    assert central.seqs("submissions") == [1, 2, 3, 4, 5]
    assert sorted(s["public"]["judul"] for s in central.submissions()) == [f"#{i}" for i in range(5)]
