"""Uplink against a real central over HTTP: order, exactly once, batch sizes, dead letters, personal data."""

from __future__ import annotations

from gateway.store import Store
from sync.client.uplink import STREAMS
from tests.sync.conftest import fill, store_seqs


def test_everything_arrives_exactly_once_in_priority_order(store, central, make_client):
    fill(store, frames=300, events=40, submissions=7, ratings=5)
    order: list[str] = []
    client = make_client(on_acked=lambda stream, n: order.append(stream))
    result = client.run_once()
    for stream in STREAMS:
        assert central.seqs(stream) == store_seqs(store, stream), stream
        assert store.acked(stream) == store_seqs(store, stream)[-1]
    assert result.uploaded == sum(len(store_seqs(store, s)) for s in STREAMS)
    first = {s: order.index(s) for s in STREAMS}
    assert first["submissions"] < first["events"] < first["ratings"] < first["readings"]
    assert order == sorted(order, key=STREAMS.index)  # submissions drained before events before readings


def test_batches_grow_on_success(store, central, make_client):
    fill(store, frames=2000, events=3000)
    client = make_client()
    client.run_once()
    assert client.uplink.sizes["readings"] == 12_800  # 100, 200, ... doubling while batches come back whole
    assert client.uplink.sizes["events"] == 1000  # submissions and events: at most 1000 per batch
    assert len(central.seqs("readings")) == 10_000
    assert len(central.seqs("events")) >= 3000


def test_second_round_sends_nothing_again(store, central, make_client):
    fill(store, events=5)
    client = make_client()
    client.run_once()
    assert client.run_once().uploaded == 0
    assert central.seqs("events") == store_seqs(store, "events")


def test_rejected_record_is_dead_lettered_and_does_not_block(store: Store, central, make_client):
    fill(store, events=3)
    store.add_event("", {"why": "the central refuses it"})
    fill(store, events=3, start=3)
    client = make_client()
    client.run_once()
    bad = store_seqs(store, "events")[3]
    assert central.seqs("events") == [s for s in store_seqs(store, "events") if s != bad]
    assert store.acked("events") == store_seqs(store, "events")[-1]
    row = store.conn.execute("SELECT seq, reason FROM dead_letters WHERE stream = 'events'").fetchall()
    assert row == [(bad, "'kind' is not a short text")]
    backlog = store.backlog()["events"]
    assert backlog["pending"] == 0 and backlog["dead_letters"] == 1


def test_personal_data_purged_once_acknowledged(store: Store, central, make_client):
    fill(store, submissions=3)
    assert (
        store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NOT NULL").fetchone()[0] == 3
    )
    make_client().run_once()
    arrived = central.submissions()
    assert len(arrived) == 3 and all("3517000000000001" in str(s["personal"]) for s in arrived)
    assert (
        store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NOT NULL").fetchone()[0] == 0
    )


def test_unsent_submission_keeps_its_personal_data(store: Store, central, make_client):
    fill(store, submissions=1)
    make_client().run_once()
    fill(store, submissions=1, start=1)
    rows = store.conn.execute("SELECT seq, personal IS NULL FROM submissions ORDER BY seq").fetchall()
    assert [purged for _seq, purged in rows] == [1, 0]


def test_acked_never_beyond_what_the_central_said(store: Store, central, make_client):
    fill(store, events=10)
    client = make_client()
    records = store.outbox("events", 4)
    client.uplink.send("events", records)
    assert store.acked("events") == records[-1]["seq"]
    assert central.seqs("events") == [r["seq"] for r in records]


def test_a_round_sends_what_was_pending_not_what_arrives_meanwhile(store, central, make_client):
    """Readings that arrive while a batch is in flight wait for the next round: at a low rate a round is one
    request per stream instead of a chase after each frame that came during the request before."""
    fill(store, frames=2)
    arrived: list[int] = []

    def one_more_frame(stream: str, count: int) -> None:
        if stream == "readings":
            arrived.append(count)
            fill(store, frames=1, start=100 + len(arrived))

    client = make_client(on_acked=one_more_frame)
    client.run_once()
    assert len(arrived) == 1  # one batch of readings in this round
    assert len(central.seqs("readings")) == len(store_seqs(store, "readings")) - 5
    client.run_once()  # the next round takes what came meanwhile
    assert len(arrived) == 2
    assert len(central.seqs("readings")) == len(store_seqs(store, "readings")) - 5


def test_routine_events_wait_for_the_round_of_the_interval(store, central, make_client):
    """A node's hello (and first frame) waits for the next round; an offline event starts one at once."""
    from gateway.frame import Frame

    client = make_client()
    client.run_once()
    store.writer().write([Frame("h", "node-9", 1, 0, {}, {"fw": "1.4.0", "up_s": 5, "mem_free": 60000})])
    assert store.pending_estimate()["events"] == 2  # node_new and hello
    assert not client.wants_round()
    store.add_event("offline", {"node": "node-9"})
    assert client.wants_round()


def test_the_loop_holds_routine_events_until_they_are_old_or_joined(store, central, make_client):
    """In the loop's rounds a batch of nothing but hellos (and first frames) waits up to ROUTINE_HOLD_ROUNDS
    intervals, so that a hello every few minutes is not a transaction of its own each round; any other event
    takes them along at once, and a round outside the loop (``sync now``) sends them."""
    from gateway.frame import Frame
    from sync.client.uplink import ROUTINE_HOLD_ROUNDS

    client = make_client()
    client.uplink.hold_routine_s = ROUTINE_HOLD_ROUNDS * 3600.0  # as run_forever sets it, an interval of 1 h
    client.round()
    sent = central.seqs("events")
    store.writer().write([Frame("h", "node-9", 1, 0, {}, {"fw": "1.4.0", "up_s": 5, "mem_free": 60000})])
    client.round()
    assert central.seqs("events") == sent  # node_new and hello wait
    store.add_event("offline", {"node": "node-7"})
    client.round()
    assert central.seqs("events") == store_seqs(store, "events")  # taken along with the offline event
    store.writer().write([Frame("h", "node-9", 1, 1, {}, {"fw": "1.4.0", "up_s": 65, "mem_free": 60000})])
    client.round()
    assert central.seqs("events") != store_seqs(store, "events")
    client.uplink.hold_routine_s = 0.0  # a round outside the loop
    client.round()
    assert central.seqs("events") == store_seqs(store, "events")
