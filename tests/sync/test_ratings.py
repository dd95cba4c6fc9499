"""Satisfaction ratings (docs/skm.md) over the real sync path: the gateway's store to the central's table,
exactly once, anonymous, into the index; a replaced store's ratings are kept, not lost; an older gateway that
never sends ratings is served as before."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import date

import sqlalchemy as sa

from gateway import config as config_mod
from gateway.store import Store
from gateway.store.ratings import K_ANONYMITY
from sync import protocol
from sync.central import service, skm
from sync.central.db import skm_ratings
from sync.client import Settings, SyncClient
from tests.sync.conftest import CentralHandle, fill, store_seqs


def test_ratings_reach_the_central_once_and_count_in_the_index(
    store, central: CentralHandle, make_client
) -> None:  # type: ignore[no-untyped-def]
    fill(store, events=3, submissions=2)
    for i in range(K_ANONYMITY):  # a day's ratings go only in groups of K (docs/skm.md, "k-anonymity")
        store.add_rating("request", {"u1": 4, "u2": 4, "u9": 3}, day=date(2026, 11, 23), uuid=f"r-{i}")
        store.add_rating("status-check", {"u1": 2, "u9": 1}, day=date(2026, 11, 24), uuid=f"s-{i}")
    assert store.add_rating("request", {"u1": 1}, day=date(2026, 11, 23), uuid="r-1") is False  # a resend
    client = make_client()
    client.run_once()
    every = list(range(1, 2 * K_ANONYMITY + 1))
    assert central.seqs("ratings") == store_seqs(store, "ratings") == every
    assert store.acked("ratings") == 2 * K_ANONYMITY and store.backlog()["ratings"]["pending"] == 0
    client.run_once()  # nothing sent twice
    with central.state.engine.connect() as conn:
        rows = conn.execute(sa.select(skm_ratings).order_by(skm_ratings.c.seq)).mappings().all()
    assert (
        sorted((r["gateway_id"], r["service"], r["day"], r["u1"], r["u2"], r["u9"]) for r in rows)
        == [
            (central.gateway_id, "request", "2026-11-23", 4, 4, 3),
        ]
        * K_ANONYMITY
        + [(central.gateway_id, "status-check", "2026-11-24", 2, None, 1)] * K_ANONYMITY
    )
    november = skm.report(central.state.engine, 2026, 11)["overall"]
    # U1 (4 + 2) / 2 = 3, U2 4 / 1 = 4, U9 (3 + 1) / 2 = 2; index (3 + 4 + 2) / 3 = 3; x 25 = 75 -> C
    assert (november.responses, november.converted, november.mutu) == (2 * K_ANONYMITY, 75.0, "C")


def test_a_replaced_stores_ratings_are_kept_as_dead_letters(  # type: ignore[no-untyped-def]
    store, central: CentralHandle, gateway_config, tmp_path
) -> None:
    """Another rating under a seq the central already holds (the kiosk's store was replaced, the same
    credentials) is refused by itself, so the kiosk keeps it as a dead letter instead of taking the
    acknowledgement for it."""
    for i in range(K_ANONYMITY):
        store.add_rating("request", {"u1": 4}, day=date(2026, 11, 23), uuid=f"first-{i}")
    settings = Settings.from_config(config_mod.load(gateway_config, env={}))
    settings.backoff_base_s = 0.01
    with SyncClient(store, settings) as client:
        client.run_once()
    with Store.open(tmp_path / "replaced" / "anjungan.db") as replaced:
        for i in range(K_ANONYMITY):
            replaced.add_rating("complaint", {"u1": 1}, day=date(2026, 11, 25), uuid=f"second-{i}")
        with SyncClient(replaced, settings) as client:
            client.run_once()
        dead = replaced.conn.execute(
            "SELECT seq, reason FROM dead_letters WHERE stream = 'ratings'"
        ).fetchall()
    assert sorted(seq for seq, _ in dead) == list(range(1, K_ANONYMITY + 1))
    assert all("already used by another rating" in reason for _, reason in dead)
    with central.state.engine.connect() as conn:
        uuids = conn.execute(sa.select(skm_ratings.c.uuid)).scalars().all()
    assert sorted(uuids) == [f"first-{i}" for i in range(K_ANONYMITY)]


def signed_post(central: CentralHandle, stream: str, records: list[dict]) -> dict:
    """One batch as a gateway sends it, over HTTP, signed with the gateway's secret; the central's answer."""
    body, headers = protocol.encode_batch(stream, records, columnar=False)
    signed = protocol.signed_headers(central.gateway_id, central.secret, "POST", "/api/v1/batches", body,
                                     time.time())  # fmt: skip
    request = urllib.request.Request(
        f"{central.url}/api/v1/batches", body, {**headers, **signed}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_an_older_gateway_without_ratings_is_served_as_before(central: CentralHandle) -> None:
    """What a gateway of the previous release sends (three streams; a backlog report without ratings) is
    accepted, and the central shows its ratings stream as nothing yet."""
    from tests.central.conftest import submission

    for stream, records in (("submissions", [submission(1)]),
                            ("events", [{"seq": 1, "at": 1_795_449_600_000, "offset": 0, "node": None,
                                         "kind": "boot", "data": {}}])):  # fmt: skip
        assert signed_post(central, stream, records) == {"stream": stream, "acked": 1}
    gateway = next(g for g in service.overview(central.state.engine) if g["gateway_id"] == central.gateway_id)
    assert gateway["acked"]["ratings"] == 0 and gateway["acked"]["submissions"] == 1
    assert protocol.parse_backlog("submissions=0,events=2,readings=5") == {"submissions": 0, "events": 2,
                                                                          "readings": 5}  # fmt: skip


def test_ratings_that_cannot_join_their_stream_hold_nothing_else_back(  # type: ignore[no-untyped-def]
    store, central: CentralHandle, make_client
) -> None:
    """When the day's ratings cannot be moved into their stream (the store refuses the write: a full disk),
    the round still sends everything else, and the ratings go with a later round."""
    fill(store, events=2, submissions=1)
    for i in range(K_ANONYMITY):
        store.add_rating("request", {"u1": 3}, day=date(2026, 11, 23), uuid=f"held-{i}")
    store.conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON ratings BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    client = make_client()
    client.run_once()
    assert central.seqs("events") == [1, 2] and central.seqs("submissions") == [1]
    assert (
        central.seqs("ratings") == []
        and store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0] == K_ANONYMITY
    )
    store.conn.execute("DROP TRIGGER refuse")
    client.run_once()
    assert central.seqs("ratings") == list(range(1, K_ANONYMITY + 1))
