"""Node health: intervals learned from frame spacing or the hello, offline and online events."""

from __future__ import annotations

from gateway.frame import Frame
from gateway.ingest.watch import IntervalLearner, NodeWatch
from gateway.store import Store

T0 = 1_800_000_000_000


def reading(node: str, boot: int, seq: int, **extra: object) -> Frame:
    return Frame("r", node, boot, seq, {"water_cm": 1.0}, dict(extra))


def test_interval_from_spacing_ignores_lost_frames_and_bursts() -> None:
    learner = IntervalLearner()
    for i, seq in enumerate([0, 1, 2, 4, 5, 6]):  # seq 3 lost: its gap spans two intervals
        learner.saw([reading("a", 1, seq)], T0 + seq * 60_000 + i)
    assert learner.interval("a") == 61  # whole seconds, rounded up
    for seq in range(7, 40):  # a backlog delivered in a burst says nothing about the interval
        learner.saw([reading("a", 1, seq)], T0 + 400_000)
    assert learner.interval("a") == 61
    assert learner.interval("unknown") is None


def test_node_clock_and_hello_interval_win() -> None:
    learner = IntervalLearner()
    for seq in range(5):  # arrival all at once, node clock 30 s apart
        learner.saw([reading("b", 2, seq, t=seq * 30_000)], T0)
    assert learner.interval("b") == 30
    learner.saw([Frame("h", "b", 2, 5, {}, {"fw": "1", "interval_s": 10})], T0)
    assert learner.interval("b") == 10


def test_offline_after_three_missed_intervals_and_online_again(store: Store) -> None:
    writer = store.writer()
    learner = IntervalLearner()
    watch = NodeWatch(store, learner, offline_after=3)
    watch.started_ms = T0
    for seq in range(5):
        frames = [reading("wl", 1, seq)]
        writer.write(frames, at=T0 + seq * 10_000)
        learner.saw(frames, T0 + seq * 10_000)
    last = T0 + 40_000
    watch.check(now_ms=last + 29_000)
    assert store.events(kind="offline") == [] and store.nodes()[0]["interval_s"] == 10
    watch.check(now_ms=last + 31_000)
    watch.check(now_ms=last + 40_000)  # one event per transition
    (offline,) = store.events(kind="offline")
    assert offline["node"] == "wl" and offline["data"] == {"last_seen": last, "interval_s": 10}
    assert store.nodes()[0]["online"] == 0
    writer.write([reading("wl", 1, 9)], at=last + 50_000)
    watch.check(now_ms=last + 51_000)
    assert [e["node"] for e in store.events(kind="online")] == ["wl"]
    assert store.nodes()[0]["online"] == 1


def test_silence_while_the_ingest_was_down_is_not_held_against_a_node(store: Store) -> None:
    store.writer().write([reading("pw", 1, 0)], at=T0)
    store.conn.execute("UPDATE nodes SET interval_s = 60")
    watch = NodeWatch(store, IntervalLearner(), offline_after=3)
    watch.started_ms = T0 + 3_600_000  # started an hour later
    watch.check(now_ms=watch.started_ms + 10_000)
    assert store.events(kind="offline") == []
    watch.check(now_ms=watch.started_ms + 181_000)
    assert len(store.events(kind="offline")) == 1


def test_a_declared_interval_beyond_reason_is_ignored_and_every_node_still_watched(store: Store) -> None:
    """A hello with ``interval_s`` 1e300 (or NaN, 0, -5, 10**400, "60") is not believed: the watch goes on for
    every node, and the node's interval is learned from its spacing instead."""
    writer = store.writer()
    learner = IntervalLearner()
    watch = NodeWatch(store, learner, offline_after=3)
    watch.started_ms = T0
    for node in ("big", "ok"):
        for seq in range(5):
            frames = [reading(node, 1, seq)]
            writer.write(frames, at=T0 + seq * 10_000)
            learner.saw(frames, T0 + seq * 10_000)
    for declared in (1e300, float("nan"), float("inf"), 0, -5, 10**400, "60", True):
        learner.saw([Frame("h", "big", 1, 5, {}, {"fw": "1", "interval_s": declared})], T0 + 40_000)
        assert learner.interval("big") == 10
    learner.saw([Frame("h", "ok", 1, 5, {}, {"fw": "1", "interval_s": 86_400})], T0 + 40_000)
    assert learner.interval("ok") == 86_400
    learner.saw([Frame("h", "ok", 1, 6, {}, {"fw": "1", "interval_s": 86_401})], T0 + 40_000)
    assert learner.interval("ok") == 10
    watch.check(now_ms=T0 + 40_000 + 31_000)
    assert sorted(e["node"] for e in store.events(kind="offline")) == ["big", "ok"]
    assert {n["node"]: n["interval_s"] for n in store.nodes()} == {"big": 10, "ok": 10}


def test_one_nodes_failure_never_stops_the_watch_of_the_others(store: Store, caplog) -> None:
    writer = store.writer()
    for node in ("a-broken", "b-fine"):
        writer.write([reading(node, 1, 0)], at=T0)
    store.conn.execute("UPDATE nodes SET interval_s = 60 WHERE node = 'b-fine'")
    store.conn.execute(
        "UPDATE nodes SET interval_s = 'not a number' WHERE node = 'a-broken'"
    )  # a damaged row
    watch = NodeWatch(store, IntervalLearner(), offline_after=3)
    watch.started_ms = T0
    for second in range(181, 190):
        watch.check(now_ms=T0 + second * 1000)
    assert [e["node"] for e in store.events(kind="offline")] == ["b-fine"]
    failures = [r for r in caplog.records if "a-broken" in r.getMessage() and "failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not every second


def test_a_node_heard_but_not_yet_committed_is_not_offline(store: Store) -> None:
    """With ``[gateway] commit_interval_s`` the store's ``last_seen`` follows a frame only at its commit; a node
    heard since (its frames gathering in the writer) is alive: no offline/online flapping between commits."""
    writer = store.writer()
    learner = IntervalLearner()
    watch = NodeWatch(store, learner, offline_after=3)
    watch.started_ms = T0
    for seq in range(5):  # committed: every 5 s
        frames = [reading("wl", 1, seq)]
        writer.write(frames, at=T0 + seq * 5_000)
        learner.saw(frames, T0 + seq * 5_000)
    for seq in range(5, 12):  # heard, still gathering for the next commit
        learner.saw([reading("wl", 1, seq)], T0 + seq * 5_000)
    watch.check(now_ms=T0 + 11 * 5_000 + 1_000)  # 36 s after the last commit: 7 intervals of 5 s
    assert store.events(kind="offline") == [] and store.nodes()[0]["online"] == 1
    watch.check(now_ms=T0 + 11 * 5_000 + 16_000)  # and silent for real: more than 3 intervals since heard
    assert [e["node"] for e in store.events(kind="offline")] == ["wl"]
