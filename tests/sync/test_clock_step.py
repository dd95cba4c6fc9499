"""An NTP step after the offset was learned: records never reach the central stamped a day in the future.

The gateway's wall clock is an injected clock (tests/clocks.py) shared by the store, the writer and the sync
client; the central runs on the real clock. The system clock is never changed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gateway import config as config_mod
from gateway.frame import Frame
from gateway.store import Store
from sync.central.db import STREAM_TABLES
from sync.client import Settings, SyncClient
from tests.clocks import SteppedClock
from tests.sync.conftest import CentralHandle

DAY_S = 86400
DAY_MS = DAY_S * 1000
SLACK_MS = 10_000  # the offset is learned over a loopback round trip: well within this


def water(qs: range) -> list[Frame]:
    return [Frame("r", "dmk-wl-01", 1, q, {"water_cm": 20.0 + q}) for q in qs]


def central_readings(central: CentralHandle) -> dict[int, dict[str, Any]]:
    table = STREAM_TABLES["readings"]
    query = sa.select(table).where(table.c.gateway_id == central.gateway_id)
    with central.state.engine.connect() as conn:
        return {row["q"]: dict(row) for row in conn.execute(query).mappings()}


def client_for(store: Store, gateway_config: Path, stepped: SteppedClock, **settings: Any) -> SyncClient:
    config = Settings.from_config(config_mod.load(gateway_config, env={}))
    config.backoff_base_s = 0.01
    for key, value in settings.items():
        setattr(config, key, value)
    return SyncClient(store, config, clock=stepped.system())


def test_ntp_step_after_learning_the_offset(
    tmp_path: Path, central: CentralHandle, gateway_config: Path
) -> None:
    stepped = SteppedClock(shift_s=-DAY_S)  # the Pi booted a day behind
    with Store.open(tmp_path / "gw.db", clock=stepped.system()) as store:
        client = client_for(store, gateway_config, stepped)
        learned = client.round().clock_offset_ms
        assert learned is not None and abs(learned - DAY_MS) < SLACK_MS
        store.writer().write(water(range(0, 3)))  # A: a day behind, with the offset that corrects it

        stepped.step(+DAY_S)  # NTP steps the clock forward by a day
        store.writer().write(water(range(3, 6)))  # B: before the sync side has noticed anything
        result = client.round()  # notices the step, drops the offset, learns it again at once
        assert result.clock_offset_ms is not None and abs(result.clock_offset_ms) < SLACK_MS
        store.writer().write(water(range(6, 9)))  # C: with the offset learned again
        client.round()
        client.close()
        steps = store.events(kind="clock_step")
        assert len(steps) == 1 and abs(steps[0]["data"]["step_ms"] - DAY_MS) < SLACK_MS

    now_ms = time.time() * 1000
    rows = central_readings(central)
    assert sorted(rows) == list(range(9))
    for q, row in rows.items():
        received = row["true_ms"] if row["clock_ok"] else row["at_ms"]
        assert abs(received - now_ms) < 60_000, f"q {q} reached the central {received - now_ms:+.0f} ms off"
    assert [rows[q]["clock_ok"] for q in range(9)] == [True] * 3 + [False] * 3 + [True] * 3
    assert all(rows[q]["offset_ms"] is None and rows[q]["true_ms"] is None for q in range(3, 6))


def test_the_sync_loop_learns_again_at_once_after_a_step(
    tmp_path: Path, central: CentralHandle, gateway_config: Path
) -> None:
    """``sync run`` with an hour between rounds: a step is noticed and the offset learned within seconds."""
    stepped = SteppedClock(shift_s=-DAY_S)
    with Store.open(tmp_path / "gw.db", clock=stepped.system()) as store:
        client = client_for(store, gateway_config, stepped, interval_s=3600.0)
        loop = threading.Thread(target=client.run_forever, daemon=True)
        loop.start()
        try:
            assert _wait(lambda: (store.clock_offset() or 0) > DAY_MS - SLACK_MS)
            stepped.step(+DAY_S)
            assert _wait(
                lambda: store.clock_offset() is not None and abs(store.clock_offset() or 0) < SLACK_MS
            )
        finally:
            client.stop.set()
            loop.join(30)
            client.close()
        assert not loop.is_alive()


def _wait(condition: Any, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
