"""A kiosk whose store is replaced (an SD card swapped, the same credentials) loses no citizen's submission.

Its new store numbers every stream from 1 again, seqs the central already holds. Against the real central
(SQLite and PostgreSQL): a submission whose seq the central holds under another uuid is refused (422) and kept
at the kiosk as a dead letter with its personal data, never acknowledged and purged; and the gateway says in
``sync status`` that the central has more of a stream than its store.
"""

from __future__ import annotations

from pathlib import Path

from gateway import config as config_mod
from gateway.store import Store
from sync.client import Settings, SyncClient
from sync.client import status as sync_status
from tests.sync.conftest import CentralHandle, fill

NIK = "3517000000000001"  # what fill() gives every citizen


def sync_round(store: Store, gateway_config: Path) -> None:
    settings = Settings.from_config(config_mod.load(gateway_config, env={}))
    with SyncClient(store, settings) as client:
        client.run_once(attempts=1)


def test_a_replaced_store_keeps_its_citizens_submissions(
    tmp_path: Path, central: CentralHandle, gateway_config: Path
) -> None:
    with Store.open(tmp_path / "old" / "anjungan.db") as old:
        fill(old, submissions=3, events=2)
        sync_round(old, gateway_config)
        first = {s["seq"]: s["uuid"] for s in central.submissions()}
        assert sorted(first) == [1, 2, 3] and old.acked("events") == 2

    with Store.open(tmp_path / "new" / "anjungan.db") as new:  # the swapped SD card
        fill(new, submissions=1, events=1, start=10)
        sync_round(new, gateway_config)

        assert {s["seq"]: s["uuid"] for s in central.submissions()} == first  # nothing overwritten
        (letter,) = new.dead_letters()
        assert letter["seq"] == 1 and letter["stream"] == "submissions"
        assert letter["reason"].startswith(
            "seq 1 was already used by another submission: was this kiosk's store replaced?"
        )
        personal = new.conn.execute("SELECT personal FROM submissions WHERE seq = 1").fetchone()[0]
        assert personal is not None and NIK in personal  # kept: the central does not have it

        status = sync_status.collect(new)
        assert status["streams"]["events"]["last_error"].startswith(
            "the central has more of this stream than this store: the store was replaced or restored from an "
            "old backup (the central holds events through seq 2, this store's highest is 1)"
        )
        assert "the central has more of this stream than this store" in sync_status.render(status)
        (event,) = new.events(kind="store_behind_central")
        assert event["data"] == {"stream": "events", "central_acked": 2, "store_highest": 1}
