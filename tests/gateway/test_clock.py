"""The wall clock is not trusted to be monotonic (a Pi has no RTC; NTP steps its clock).

Clock steps are simulated with an injected clock (tests/clocks.py), never by changing the system clock.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import cli
from gateway.frame import Frame
from gateway.store import Store
from gateway.store.clock import SystemClock, learned_offset
from sync.client.clock import Clock
from tests.clocks import SteppedClock

YEAR_S = 365 * 86400
DAY_MS = 86_400_000


def water(node: str, boot: int, qs: range, cm: float) -> list[Frame]:
    return [Frame("r", node, boot, q, {"water_cm": cm}) for q in qs]


def latest_water(store: Store, node: str) -> float:
    return next(r["value"] for r in store.latest() if r["node"] == node and r["name"] == "water_cm")


def test_latest_is_newest_by_the_nodes_order_not_by_wall_clock(tmp_path: Path) -> None:
    """180 cm stamped a year ahead, the clock corrected, then 20 cm: the latest is 20 cm."""
    stepped = SteppedClock(shift_s=YEAR_S)
    with Store.open(tmp_path / "a.db", clock=stepped.system()) as store:
        store.writer().write(water("dmk-wl-01", 3, range(0, 3), 180.0))
        assert latest_water(store, "dmk-wl-01") == 180.0
        stepped.step(-YEAR_S)
        store.writer().write(water("dmk-wl-01", 3, range(3, 6), 20.0))
        assert latest_water(store, "dmk-wl-01") == 20.0
        # a late copy of an older frame (a redelivery) never replaces a newer one, whatever its stamp
        stepped.step(+60)
        store.writer().write(
            water("dmk-wl-01", 3, range(1, 2), 99.0) + water("dmk-wl-01", 3, range(9, 10), 99.0)
        )
        store.writer().write(water("dmk-wl-01", 3, range(7, 9), 55.0))
        assert latest_water(store, "dmk-wl-01") == 99.0  # q 9 is the newest, though q 7 and 8 arrived later
        # a new boot is newer than any frame of the boot before
        store.writer().write(water("dmk-wl-01", 4, range(0, 1), 21.0))
        assert latest_water(store, "dmk-wl-01") == 21.0
        node = store.nodes()[0]
        assert abs(node["last_seen"] - stepped.system().now_ms()) < 5000  # the last arrival, not a year ahead


def test_node_list_after_the_clock_was_corrected(tmp_path: Path, config_file: Path, cfg) -> None:  # type: ignore[no-untyped-def]
    """``node list`` shows the age of the last frame, not "0 s ago" for a year; an age that cannot be known
    (the only frames were stamped a year ahead) is said to be unknown."""
    stepped = SteppedClock(shift_s=YEAR_S)
    with Store.from_config(cfg, clock=stepped.system()) as store:
        store.writer().write(
            water("dmk-wl-01", 1, range(0, 3), 180.0) + water("dmk-wl-02", 1, range(0, 3), 170.0)
        )
        stepped.step(-YEAR_S - 150)  # corrected; the next frames arrived 150 s before `node list` runs
        store.writer().write(water("dmk-wl-01", 1, range(3, 6), 20.0))
    result = CliRunner().invoke(cli, ["--config", str(config_file), "node", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "2 min ago" in rows["dmk-wl-01"], result.output
    assert "unknown (clock)" in rows["dmk-wl-02"], result.output
    listed = CliRunner().invoke(cli, ["--config", str(config_file), "node", "list", "--format", "json"])
    by_node = {n["node"]: n for n in json.loads(listed.output)}
    assert 149 <= by_node["dmk-wl-01"]["last_seen_s"] <= 200
    assert by_node["dmk-wl-02"]["last_seen_s"] is None
    assert by_node["dmk-wl-02"]["frames_per_min"] == 0  # its frames are of unknown age, not recent


def test_a_fresh_writer_knows_the_offset_before_its_first_commit(tmp_path: Path) -> None:
    clock = SteppedClock().system()
    with Store.open(tmp_path / "a.db", clock=clock) as store:
        Clock(store).set(-1234)
    with Store.open(tmp_path / "a.db", clock=clock) as store:
        store.writer().write(water("dmk-wl-01", 1, range(0, 1), 20.0))
        assert [r["offset"] for r in store.outbox("readings")] == [-1234]


def test_a_step_or_a_reboot_makes_the_offset_not_known_good(tmp_path: Path) -> None:
    stepped = SteppedClock(shift_s=-86400)  # a day behind, as a Pi without RTC may boot
    with Store.open(tmp_path / "a.db", clock=stepped.system()) as store:
        Clock(store).set(DAY_MS)
        store.writer().write(water("n", 1, range(0, 1), 1.0))
        stepped.step(1.5)  # within the tolerance: NTP slews, a leap second: still the same epoch
        store.writer().write(water("n", 1, range(1, 2), 1.0))
        stepped.step(86400 - 1.5)  # NTP steps the clock forward by a day
        store.writer().write(water("n", 1, range(2, 3), 1.0))
        store.add_event("after-step", {})
        offsets = [r["offset"] for r in store.outbox("readings")]
        assert offsets == [DAY_MS, DAY_MS, None]
        assert store.events(kind="after-step")[0]["offset"] is None
        Clock(store).set(5)  # learned again: holds from now on
        store.writer().write(water("n", 1, range(3, 4), 1.0))
        assert store.outbox("readings")[-1]["offset"] == 5
    rebooted = SystemClock(wall=stepped.wall, monotonic=stepped.system().monotonic, boot_id=lambda: "boot-2")
    with Store.open(tmp_path / "a.db", clock=rebooted) as store:
        assert store.clock_offset() is None
        assert learned_offset(store.conn, stepped.system()) == 5
