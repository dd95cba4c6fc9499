"""The size budget: synced readings go first, then unsynced ones are thinned (recorded); submissions stay."""

from __future__ import annotations

from pathlib import Path

from gateway.store import Store, retention
from tests.gateway.helpers import readings

BUDGET = 400_000


def _fill(store: Store, frames: int) -> None:
    writer = store.writer()
    for node in ("dmk-wl-01", "dmk-wx-01"):
        for start in range(0, frames, 1000):
            writer.write(readings(1000, node=node, start=start))


def test_synced_readings_go_first(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db", budget_bytes=BUDGET) as store:
        _fill(store, 6000)
        total = store.conn.execute("SELECT count(*), max(seq) FROM readings").fetchone()
        assert store.used_bytes() > BUDGET
        store.mark_acked("readings", total[1] - 2000)
        removed = store.enforce_budget()
        assert removed["synced"] > 0 and removed["thinned"] == 0
        assert store.used_bytes() <= BUDGET
        left = store.conn.execute(
            "SELECT count(*) FROM readings WHERE seq > ?", (total[1] - 2000,)
        ).fetchone()
        assert left[0] == 2000  # every unsynced reading is still there
        assert store.events(kind="readings_thinned") == []


def test_unsynced_readings_are_thinned_with_an_event_per_node(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db", budget_bytes=BUDGET) as store:
        for i in range(20):
            store.add_submission("complaint", {"i": i}, {"nik": "3301"}, gateway_id="k", due_date=None)
        _fill(store, 6000)
        before = store.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        removed = store.enforce_budget()
        assert removed["synced"] == 0 and removed["thinned"] > 0
        assert store.used_bytes() <= BUDGET
        after = store.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        assert before - after == removed["thinned"]
        events = store.events(kind="readings_thinned", limit=1000)
        assert {e["node"] for e in events} == {"dmk-wl-01", "dmk-wx-01"}
        assert sum(e["data"]["readings"] for e in events) == removed["thinned"]
        assert store.conn.execute("SELECT count(*) FROM submissions").fetchone()[0] == 20
        assert (
            store.conn.execute("SELECT count(*) FROM submissions WHERE personal IS NULL").fetchone()[0] == 0
        )
        newest = store.conn.execute(
            "SELECT max(q) FROM frames f JOIN readings r ON r.frame_id = f.id"
        ).fetchone()
        assert newest[0] >= 5990  # thinned, not cut: the newest readings are still there


def test_within_budget_nothing_goes(store: Store) -> None:
    store.writer().write(readings(100))
    assert retention.enforce_budget(store.conn, 1 << 30) == {"synced": 0, "thinned": 0}
    assert store.conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 200


def test_the_writer_enforces_the_budget_in_its_housekeeping(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gateway.store import writer as writer_mod

    monkeypatch.setattr(writer_mod, "HOUSEKEEPING_S", 0.0)  # after every commit
    with Store.open(tmp_path / "s.db", budget_bytes=BUDGET) as store:
        _fill(store, 6000)
        assert store.events(kind="readings_thinned")
        assert store.used_bytes() <= BUDGET * 1.2
