"""The demo's scenario: within its first minutes the river crosses the flood threshold and the mains go out
(0 V at the PZEM) and come back; no random outage or shower happens before the scenario is over."""

from __future__ import annotations

from gateway.simulator.physics import SCENARIOS, World
from sync.central.fleet.settings import FleetSettings


def test_the_demo_scenario_floods_and_cuts_the_power_in_its_first_minutes() -> None:
    world = World(seed="demo-wl-01", now=1_000_000.0, scenario=SCENARIOS["demo"])
    base = world.level_cm
    seen: dict[int, tuple[float, bool]] = {}
    for second in range(0, 601, 5):
        world.advance(1_000_000.0 + second)
        seen[second] = (world.level_cm, world.mains_up)
    assert all(up for s, (_level, up) in seen.items() if s < 90) and seen[25][0] < base + 1
    assert not any(up for s, (_level, up) in seen.items() if 95 <= s <= 235)
    assert all(up for s, (_level, up) in seen.items() if s >= 245)
    assert max(level for level, _up in seen.values()) >= 150 > base  # the kiosk's flood threshold
    assert seen[600][0] >= 150  # still high ten minutes in: the alerts have something to show
    world.advance(1_000_000.0 + 890)
    assert world.mains_up


def test_the_demo_rain_crosses_the_heavy_rain_alert_once() -> None:
    # the central's rain alert: 50 mm in this hour and the last (FleetSettings.rain_alert_mm)
    limit = FleetSettings().rain_alert_mm
    world = World(seed="demo-wx-01", now=1_000_000.0, scenario=SCENARIOS["demo"])
    totals = {}
    for second in range(0, 3601, 10):
        world.advance(1_000_000.0 + second)
        totals[second] = world.rain_total_mm
    crossed = min(s for s, total in totals.items() if total >= limit)
    assert crossed <= 15 * 60 and totals[crossed - 10] < limit  # within the first quarter hour
    assert totals[900] < 2 * limit  # a cloudburst, not a rain that would cross it twice


def test_without_a_scenario_the_world_is_as_before() -> None:
    plain, scripted = World(seed="x", now=0.0), World(seed="x", now=0.0, scenario=None)
    plain.advance(3600.0)
    scripted.advance(3600.0)
    assert (plain.level_cm, plain.mains_up, plain.energy_wh) == (
        scripted.level_cm,
        scripted.mains_up,
        scripted.energy_wh,
    )
