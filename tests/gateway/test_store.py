"""The store: migrations, seqs, dedup, acknowledgement after commit, group commit, outbox, submissions."""

from __future__ import annotations

import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from gateway.store import Store, db
from gateway.store.schema import MIGRATIONS
from tests.gateway.helpers import reading, readings

REPO = Path(__file__).resolve().parents[2]


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    before = _schema(store.conn)
    assert db.migrate(store.conn) == []
    assert _schema(store.conn) == before
    names = [row[0] for row in store.conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)
    store.close()
    with Store.open(store.path) as again:
        assert _schema(again.conn) == before


def test_processes_opening_a_new_store_together(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    code = "import sys; from gateway.store import Store; Store.open(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=REPO) for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    with Store.open(path) as opened:
        assert opened.conn.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)


def test_dedup_by_node_boot_q(store: Store) -> None:
    writer = store.writer()
    assert writer.write(readings(10)) == 10
    assert writer.write(readings(10)) == 0  # all seen before
    assert writer.write(readings(10, start=5)) == 5
    assert writer.write([reading(seq=20), reading(seq=20)]) == 1  # twice in one batch
    assert writer.write(readings(3, boot=2)) == 3  # a new boot restarts q
    keys = store.conn.execute(
        "SELECT count(*), count(DISTINCT node_id || '/' || boot || '/' || q) FROM frames"
    )
    assert keys.fetchone() == (19, 19)
    assert len(list(store.readings())) == 18 * 2 + 5


def _seen_keys(store: Store) -> list[tuple[int, int, int]]:
    """Every (node id, boot, q) the store's intervals say it has seen, checking that they are disjoint."""
    spans = store.conn.execute(
        "SELECT id, seen_boot, seen_low, seen_high FROM nodes WHERE seen_boot IS NOT NULL "
        "UNION ALL SELECT node_id, boot, low, high FROM frames_seen ORDER BY 1, 2, 3"
    ).fetchall()
    keys = [(node_id, boot, q) for node_id, boot, low, high in spans for q in range(low, high + 1)]
    assert len(keys) == len(set(keys)), spans  # disjoint
    return sorted(keys)


def test_dedup_remembers_every_key_however_late_and_after_retention(store: Store) -> None:
    writer = store.writer()
    assert writer.write(readings(10)) == 10
    assert writer.write(readings(5, start=15)) == 5  # a gap: 10..14 never arrived (yet)
    assert writer.write(readings(3, boot=2)) == 3  # a reboot
    assert writer.write([reading(seq=12)]) == 1  # late, into the gap of the earlier boot
    assert writer.write(readings(20)) == 4  # all of boot 1 again: only the rest of the gap is new
    assert writer.write([reading(boot=2, seq=1), reading(boot=2, seq=3)]) == 1
    stored = store.conn.execute("SELECT node_id, boot, q FROM frames ORDER BY 1, 2, 3").fetchall()
    assert len(stored) == 24 and _seen_keys(store) == stored
    # the intervals are compact: boot 1's gap closed into one interval
    assert store.conn.execute("SELECT boot, low, high FROM frames_seen").fetchall() == [(1, 0, 19)]
    # retention deletes frames and readings: their keys are still known
    with store.conn:
        store.conn.execute("DELETE FROM readings")
        store.conn.execute("DELETE FROM frames")
    store.close()
    with Store.open(store.path) as again:
        writer = again.writer()
        assert writer.write(readings(20)) == 0
        assert writer.write(readings(5, boot=2)) == 1  # only q 4 of boot 2 is new
        assert again.conn.execute("SELECT boot, q FROM frames").fetchall() == [(2, 4)]
        assert again.highest_boot("dmk-wl-01") == 2


def test_dedup_matches_a_set_of_keys_for_frames_in_any_order(store: Store) -> None:
    rng = random.Random(7)
    writer = store.writer()
    model: set[tuple[str, int, int]] = set()
    for _ in range(60):
        batch = [
            reading(rng.choice(["dmk-wl-01", "dmk-wx-01"]), rng.choice([1, 1, 1, 2, 3]), rng.randrange(40))
            for _ in range(rng.randrange(1, 8))
        ]
        new = {f.key for f in batch} - model
        assert writer.write(batch) == len(new)
        model |= new
    stored = store.conn.execute(
        "SELECT n.node, f.boot, f.q FROM frames f JOIN nodes n ON n.id = f.node_id"
    ).fetchall()
    assert sorted(stored) == sorted(model)
    ids = dict(store.conn.execute("SELECT node, id FROM nodes"))
    assert _seen_keys(store) == sorted((ids[node], boot, q) for node, boot, q in model)


def test_dedup_within_one_commit_group(store: Store) -> None:
    writer = store.writer()
    with _write_lock(store.path):
        futures = [writer.submit(readings(5)) for _ in range(20)]
        time.sleep(0.2)
    assert [f.result(10) for f in futures].count(5) == 1
    assert sum(f.result() for f in futures) == 5


def test_readings_seq_strictly_increasing_and_never_reused(store: Store) -> None:
    writer = store.writer()
    writer.write(readings(50))
    seqs = [r["seq"] for r in store.outbox("readings", limit=10_000)]
    assert seqs == sorted(set(seqs)) and len(seqs) == 100
    top = seqs[-1]
    with db.transaction(store.conn):
        store.conn.execute("DELETE FROM readings WHERE seq > ?", (top - 30,))
    writer.write(readings(5, start=1000))
    new = [r["seq"] for r in store.outbox("readings", limit=10_000) if r["q"] >= 1000]
    assert min(new) > top


def test_a_held_acknowledgement_is_answered_at_once_and_written_later_or_on_close(store: Store) -> None:
    def written(stream: str) -> int:
        with sqlite3.connect(store.path) as other:  # what another process sees
            return int(
                other.execute("SELECT acked FROM sync_state WHERE stream = ?", (stream,)).fetchone()[0]
            )

    store.mark_acked("readings", 10, hold_ms=600_000)  # never written yet: written at once
    assert written("readings") == 10
    store.mark_acked("readings", 20, hold_ms=600_000)  # written just now: held
    assert (store.acked("readings"), written("readings")) == (20, 10)
    assert store.backlog()["readings"]["acked"] == 20  # this process's own figures count what it holds
    store.mark_acked("readings", 15, hold_ms=600_000)  # never backwards
    assert store.acked("readings") == 20
    store.note_failure("readings", 21)
    store.mark_acked("readings", 30, hold_ms=600_000)  # a failure to clear: written at once
    assert (written("readings"), store.acked("readings")) == (30, 30)
    assert store.conn.execute("SELECT failures FROM sync_state WHERE stream = 'readings'").fetchone()[0] == 0
    store.mark_acked("readings", 40, hold_ms=600_000)
    store.mark_acked("events", 1, hold_ms=600_000)
    store.mark_acked("events", 2, hold_ms=600_000)
    assert (written("readings"), written("events")) == (30, 1)
    store.close()
    assert (written("readings"), written("events")) == (40, 2)


def test_event_and_submission_seqs_never_reused(store: Store) -> None:
    first = store.add_event("test", {"i": 1})
    with db.transaction(store.conn):
        store.conn.execute("DELETE FROM events WHERE seq = ?", (first,))
    assert store.add_event("test", {"i": 2}) > first
    sub = store.add_submission("complaint", {"judul": "x"}, None, gateway_id="kiosk", due_date=None)
    with db.transaction(store.conn):
        store.conn.execute("DELETE FROM submissions")
    again = store.add_submission("complaint", {"judul": "y"}, None, gateway_id="kiosk", due_date=None)
    assert again["seq"] > sub["seq"]


class _write_lock:
    """Hold the store's write lock from another connection (``BEGIN IMMEDIATE``) until the block ends."""

    def __init__(self, path: Path):
        self.conn = db.connect(path)

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_acknowledged_only_after_commit(store: Store) -> None:
    writer = store.writer()
    writer.write(readings(1))  # the writer is up
    with _write_lock(store.path):
        future = writer.submit(readings(3, start=10))
        time.sleep(0.5)
        assert not future.done()  # cannot commit: not acknowledged
        with Store.open(store.path) as other:
            assert len(list(other.readings())) == 2  # and not visible
    assert future.result(10) == 3
    with Store.open(store.path) as other:
        assert len(list(other.readings())) == 8


def test_group_commit_many_submits_few_commits(store: Store) -> None:
    writer = store.writer()
    writer.write(readings(1))
    before = writer.commits
    with _write_lock(store.path):
        futures = [writer.submit([reading(seq=q)]) for q in range(1, 2001)]
        time.sleep(0.2)
    assert sum(f.result(30) for f in futures) == 2000
    assert writer.commits - before <= 3


def test_idle_batch_is_committed_within_100_ms(store: Store) -> None:
    writer = store.writer()
    writer.write(readings(1))
    latencies = []
    for q in range(1, 12):
        time.sleep(0.05)  # idle
        start = time.perf_counter()
        writer.submit([reading(seq=q)]).result(5)
        latencies.append(time.perf_counter() - start)
    assert statistics.median(latencies) < 0.1, latencies


def test_writer_refuses_after_close(store: Store) -> None:
    from gateway.errors import StoreError

    writer = store.writer()
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(StoreError):
        writer.submit(readings(1))


def test_outbox_reads_after_acked_and_closes_its_read(store: Store) -> None:
    store.writer().write(readings(30))
    first = store.outbox("readings", limit=25)
    assert [r["seq"] for r in first] == list(range(1, 26))
    assert first[0] == {
        **first[0],
        "node": "dmk-wl-01",
        "boot": 1,
        "q": 0,
        "name": "water_cm",
        "value": 100.0,
    }
    assert not store.conn.in_transaction
    with sqlite3.connect(store.path) as other:
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0  # no read transaction left open
    store.mark_acked("readings", first[-1]["seq"])
    store.mark_acked("readings", 3)  # never moves backwards
    assert store.acked("readings") == 25
    assert [r["seq"] for r in store.outbox("readings")] == list(range(26, 61))


def test_outbox_of_events_and_dead_letters(store: Store) -> None:
    seqs = [store.add_event("door_open", {"i": i}) for i in range(5)]
    store.dead_letter("events", [{"seq": seqs[1]}], "refused: bad kind")
    assert [e["seq"] for e in store.outbox("events")] == [s for s in seqs if s != seqs[1]]
    backlog = store.backlog()["events"]
    assert backlog["pending"] == 4 and backlog["dead_letters"] == 1


def test_submissions_are_written_with_synchronous_full(store: Store) -> None:
    assert store.durable_conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    record = store.add_submission(
        "request", {"rincian": "APBDes 2025"}, {"nama": "Siti", "nik": "3301"},
        gateway_id="dmk-wonosalam", due_date=date(2026, 1, 20), day=date(2026, 1, 6),
    )  # fmt: skip
    assert record["number"].startswith("DMK-WONOSALAM-260106-0001")
    assert "personal" not in record
    assert store.outbox("submissions")[0]["personal"] == {"nama": "Siti", "nik": "3301"}


def test_submission_numbers_unique_across_threads(store: Store) -> None:
    numbers: list[str] = []
    lock = threading.Lock()

    def kiosk() -> None:
        for _ in range(10):
            rec = store.add_submission(
                "complaint", {}, None, gateway_id="k", due_date=None, day=date(2026, 2, 2)
            )
            with lock:
                numbers.append(rec["number"])

    threads = [threading.Thread(target=kiosk) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(set(numbers)) == 60
    assert sorted(int(n[-5:-1]) for n in numbers) == list(range(1, 61))


def test_submission_numbers_unique_across_processes(store: Store) -> None:
    code = (
        "import sys; from datetime import date; from gateway.store import Store\n"
        "with Store.open(sys.argv[1]) as s:\n"
        "    for _ in range(15):\n"
        "        print(s.add_submission('complaint', {}, None, gateway_id='k', due_date=None,"
        " day=date(2026, 3, 3))['number'], flush=True)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(store.path)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    numbers = [n for out in outputs for n in out]
    assert len(numbers) == len(set(numbers)) == 60
    assert sorted(int(n[-5:-1]) for n in numbers) == list(range(1, 61))


def test_purge_personal_data(store: Store) -> None:
    for i in range(3):
        store.add_submission("request", {"i": i}, {"nik": f"33{i}"}, gateway_id="k", due_date=None)
    assert store.purge_personal(2) == 2
    outbox = store.conn.execute("SELECT seq, personal, purged_at IS NOT NULL FROM submissions ORDER BY seq")
    assert [(seq, personal, purged) for seq, personal, purged in outbox] == [
        (1, None, 1), (2, None, 1), (3, '{"nik":"332"}', 0)
    ]  # fmt: skip
    assert store.purge_personal(2) == 0


def test_apply_changes_twice_is_harmless(store: Store) -> None:
    sub = store.add_submission("request", {}, None, gateway_id="k", due_date=None)
    changes = [
        {"kind": "dip", "id": "1", "op": "upsert", "data": {"judul": "APBDes"}},
        {"kind": "dip", "id": "2", "op": "upsert", "data": {"judul": "RKPDes"}},
        {"kind": "dip", "id": "2", "op": "delete"},
        {"kind": "submission", "id": sub["number"], "data": {"status": "dijawab", "answer": "Terlampir"}},
    ]
    store.apply_changes(changes, "c1")
    first = (store.content("dip"), store.submission(sub["number"]), store.get_meta("changes_cursor"))
    store.apply_changes(changes, "c1")
    second = (store.content("dip"), store.submission(sub["number"]), store.get_meta("changes_cursor"))
    for a, b in zip(first, second, strict=True):
        if isinstance(a, dict):
            a, b = {**a, "updated_at": 0}, {**b, "updated_at": 0}  # type: ignore[dict-item]
        elif isinstance(a, list):
            a, b = [{**x, "updated_at": 0} for x in a], [{**x, "updated_at": 0} for x in b]  # type: ignore[union-attr]
        assert a == b
    assert [c["id"] for c in first[0]] == ["1"]  # type: ignore[index]
    assert first[1]["status"] == "dijawab"  # type: ignore[index]


def test_backlog(store: Store) -> None:
    store.writer().write(readings(10))
    store.add_submission("complaint", {}, None, gateway_id="k", due_date=None)
    backlog = store.backlog()
    assert backlog["readings"]["pending"] == 20
    assert backlog["submissions"]["pending"] == 1
    assert backlog["readings"]["oldest_at"] is not None
    store.mark_acked("readings", 15)
    store.record_sync_error("readings", "central unreachable")
    backlog = store.backlog()["readings"]
    assert backlog["pending"] == 5 and backlog["acked"] == 15
    assert backlog["last_error"] == "central unreachable" and backlog["last_success"] is not None


def test_latest_and_series_follow_the_readings(store: Store) -> None:
    writer = store.writer()
    at = 1_700_000_000_000 - 1_700_000_000_000 % 300_000
    writer.write([reading(seq=0, water_cm=10.0), reading(seq=1, water_cm=30.0)], at=at)
    writer.write([reading(seq=1, water_cm=99.0)], at=at + 1000)  # a duplicate changes nothing
    writer.write([reading(seq=2, water_cm=20.0, temp_c=25.0)], at=at + 2000)
    latest = {(x["node"], x["name"]): (x["value"], x["at"]) for x in store.latest()}
    assert latest[("dmk-wl-01", "water_cm")] == (20.0, at + 2000)
    assert latest[("dmk-wl-01", "temp_c")] == (25.0, at + 2000)
    [bucket] = store.series("dmk-wl-01", "water_cm", at)
    assert bucket == {"at": at, "mean": 20.0, "low": 10.0, "high": 30.0, "n": 3}


def test_hello_error_and_reboot_become_node_state_and_events(store: Store) -> None:
    from gateway.frame import Frame

    writer = store.writer()
    hello = Frame(
        "h", "dmk-wl-01", 1, 0, {}, {"fw": "0.3.1", "up_s": 4, "mem_free": 81234, "rssi": {"odd": 1}}
    )
    writer.write([hello, reading(seq=1), Frame("e", "dmk-wl-01", 1, 2, {}, {"msg": "bme280: no ack"})])
    writer.write([reading(boot=2, seq=0)])
    [node] = store.nodes()
    assert (node["fw"], node["mem_free"], node["rssi"], node["boot"], node["frames"]) == (
        "0.3.1",
        81234,
        None,
        2,
        4,
    )
    kinds = [e["kind"] for e in store.events()]
    assert kinds == ["node_new", "hello", "error", "reboot"]


def test_commit_interval_gathers_frames_into_one_commit_and_acknowledges_after_it(tmp_path: Path) -> None:
    """With ``[gateway] commit_interval_s`` a low rate of frames is committed in groups (each commit writes
    whole pages to the SD card, bench/field.py): GATHER_FRAMES frames commit at once without waiting out the
    interval, a frame's Future resolves only after its commit, and closing commits what was gathered."""
    from gateway.frame import Frame
    from gateway.store.writer import GATHER_FRAMES, ReadingWriter

    path = tmp_path / "store.db"
    Store.open(path).close()
    with ReadingWriter(path, commit_interval_s=300) as writer:
        futures = [
            writer.submit([Frame("r", "n1", 1, q, {"water_cm": 1.0 + q})]) for q in range(GATHER_FRAMES)
        ]
        assert [future.result(30) for future in futures] == [1] * GATHER_FRAMES
        assert writer.commits == 1
        late = writer.submit([Frame("r", "n1", 1, 99, {"water_cm": 2.0})])
        assert not late.done()  # gathered for up to 300 s: not acknowledged before its commit
    assert late.result(0) == 1
    assert writer.commits == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM frames").fetchone()[0] == GATHER_FRAMES + 1


def test_journaled_frames_gather_past_the_in_flight_window_until_awaited_ones_fill_it(tmp_path: Path) -> None:
    """Frames kept in the ingest's journal until their commit (``awaited=False``: no sender waits to acknowledge
    them) do not count toward GATHER_FRAMES, so a low rate of serial frames gathers for the whole interval; an
    MQTT broker's frames (awaited) still end the gathering at GATHER_FRAMES, and GATHER_MAX bounds any group."""
    from gateway.frame import Frame
    from gateway.store.writer import GATHER_FRAMES, GATHER_MAX, ReadingWriter

    path = tmp_path / "store.db"
    Store.open(path).close()
    with ReadingWriter(path, commit_interval_s=300) as writer:
        journaled = [writer.submit([Frame("r", "s1", 1, q, {"water_cm": 1.0})], awaited=False)
                     for q in range(GATHER_FRAMES * 2)]  # fmt: skip
        awaited = [writer.submit([Frame("r", "m1", 1, q, {"water_cm": 1.0})]) for q in range(GATHER_FRAMES)]
        assert [f.result(30) for f in awaited + journaled] == [1] * GATHER_FRAMES * 3
        assert writer.commits == 1  # the journaled ones waited for the awaited ones, then went with them
        many = [writer.submit([Frame("r", "s2", 1, q, {"water_cm": 1.0})], awaited=False)
                for q in range(GATHER_MAX)]  # fmt: skip
        assert [f.result(30) for f in many] == [1] * GATHER_MAX and writer.commits == 2


def test_two_writers_of_one_store_keep_each_others_frames_and_node_rows(tmp_path: Path) -> None:
    """Another writer of the store (``node flash`` storing the board's first frames, a monitor, a second ingest)
    commits between this writer's commits: each commit reads the node rows it changes again, so neither writer
    writes back a stale row (its newest interval of frame keys, its frame count) and no frame is refused or
    stored twice."""
    from gateway.frame import Frame
    from gateway.store.writer import ReadingWriter

    def reading(node: str, boot: int, q: int) -> list[Frame]:
        return [Frame("r", node, boot, q, {"water_cm": 1.0 + q})]

    path = tmp_path / "store.db"
    Store.open(path).close()
    with ReadingWriter(path) as ingest:
        assert [ingest.submit(reading("wl", 4, q)).result(30) for q in range(10)] == [1] * 10
        assert ingest.submit(reading("wx", 1, 0)).result(30) == 1
        with ReadingWriter(path) as flash:  # the board flashed: boot 5 begins, stored by the flasher
            assert [flash.submit(reading("wl", 5, q)).result(30) for q in range(2)] == [1, 1]
        assert ingest.submit(reading("wx", 1, 1)).result(30) == 1  # a commit of another node between
        assert [ingest.submit(reading("wl", 5, q)).result(30) for q in (2, 3, 1)] == [1, 1, 0]
        assert ingest.submit(reading("wl", 4, 9)).result(30) == 0  # an old frame again: stored once
    with ReadingWriter(path) as restarted:
        assert restarted.submit(reading("wl", 6, 0)).result(30) == 1
    with sqlite3.connect(path) as conn:
        keys = conn.execute(
            "SELECT n.node, f.boot, f.q FROM frames f JOIN nodes n ON n.id = f.node_id"
        ).fetchall()
        frames = dict(conn.execute("SELECT node, frames FROM nodes").fetchall())
    assert len(keys) == len(set(keys)) == 10 + 2 + 4 + 1
    assert frames == {"wl": 15, "wx": 2}


def test_an_urgent_frame_ends_the_gathering_and_commits_its_group_at_once(tmp_path: Path) -> None:
    """Frames kept nowhere else (the ingest could not journal them) are submitted ``urgent``: the open group
    commits with them at once, whatever the interval; its other frames are acknowledged with it."""
    from gateway.frame import Frame
    from gateway.store.writer import ReadingWriter

    path = tmp_path / "store.db"
    Store.open(path).close()
    with ReadingWriter(path, commit_interval_s=300) as writer:
        gathered = writer.submit([Frame("r", "n1", 1, 1, {"water_cm": 1.0})])
        assert not gathered.done() and writer.commits == 0
        urgent = writer.submit(
            [Frame("r", "n1", 1, 2, {"water_cm": 2.0})], at=1_780_000_000_000, base=5, urgent=True
        )
        assert urgent.result(30) == 1 and gathered.result(0) == 1
        assert writer.commits == 1
        alone = writer.submit([Frame("r", "n1", 1, 3, {"water_cm": 3.0})], urgent=True)  # first of its group
        assert alone.result(30) == 1 and writer.commits == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT q, at FROM frames ORDER BY q").fetchall()[1] == (2, 1_780_000_000_000)


def test_the_row_types_name_every_column(store: Store) -> None:
    """A column added to ``nodes`` or ``submissions`` shows in the rows that leave the store, or fails here."""
    from gateway.store.rows import NodeRow, Submission

    def columns(table: str) -> set[str]:
        return {row[1] for row in store.conn.execute(f"PRAGMA table_info({table})")}

    assert set(NodeRow.__annotations__) == columns("nodes")
    kept_in = {
        "offset",
        "personal",
        "access_hash",
        "idempotency_key",
        "purged_at",
    }  # the outbox's (notify_sms leaves the store too: the status page says SMS were asked for)
    assert set(Submission.__annotations__) == columns("submissions") - kept_in


def test_every_connection_keeps_a_small_page_cache(tmp_path: Path) -> None:
    """Each thread of a process has its own connections (the kiosk's request threads, the sync's relay): each
    keeps at most db.CACHE_KIB of pages (SQLite's default, 2,000 KiB each, grew with the store into the
    processes' RSS)."""
    from gateway.store import readonly

    path = tmp_path / "store.db"
    with Store.open(path) as store:
        conns = [store.conn, store.durable_conn, readonly.connect(path)]
        with store.writer() as writer:
            conns.append(writer._conn)
            for conn in conns:
                assert conn.execute("PRAGMA cache_size").fetchone()[0] == -db.CACHE_KIB < 0
        conns[2].close()
    assert db.CACHE_KIB <= 512


def _open_files(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path`` (each connection has one)."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            if Path(fd.readlink()) == path:
                count += 1
        except OSError:  # (the descriptor of the listing itself, gone by now)
            pass
    return count


def test_the_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    """A store used from many short-lived threads (the sync's prefetch thread is new in each round) keeps the
    connections of the living threads only, not one more set per thread that ever used it."""
    path = tmp_path / "store.db"
    with Store.open(path) as store:
        store.set_meta("probe", "0")
        for n in range(30):
            thread = threading.Thread(target=store.set_meta, args=("probe", str(n + 1)))
            thread.start()
            thread.join()
            assert store.reader.execute("SELECT 1").fetchone() == (1,)
        assert store.get_meta("probe") == "30"  # the main thread's connections work on
        # the main thread's conn and reader, and at most the last ended thread's (closed at the next open)
        assert _open_files(path) <= 4
    assert _open_files(path) == 0


def test_the_main_threads_connections_stay_open_in_its_atexit_handlers(tmp_path: Path) -> None:
    """Python marks the main thread stopped before its atexit handlers run: a connection opened there (a
    reader) must not close the main thread's others, still in use."""
    script = (
        "import atexit, sys\n"
        "from gateway.store import Store\n"
        f"store = Store.open({str(tmp_path / 'store.db')!r})\n"
        "store.set_meta('k', '1')\n"
        "def last():\n"
        "    store.reader.execute('SELECT 1')\n"
        "    store.set_meta('k', '2')\n"
        "    print(store.get_meta('k'))\n"
        "atexit.register(last)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2", out.stderr
