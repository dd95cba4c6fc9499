"""A small world for simulated nodes: rain showers, a river that rises with them, day and night, mains outages.

Time is real time (a node reading every minute sees the world change at its true pace); the random
events are frequent enough to be seen in a demo of a few minutes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

WIB_OFFSET_H = 7  # Western Indonesian Time, UTC+7
RIVER_CM_PER_MM_H = 0.6  # how far above its base the river settles for each mm/h of steady rain
RISE_S, FALL_S = 600.0, 1800.0  # the river's time constants, rising and falling


@dataclass(frozen=True)
class Scenario:
    """Events at fixed times after the world starts (seconds), so that a demo shows them within its first
    minutes: a cloudburst (300 mm/h for 12 minutes: 60 mm, over the central's heavy-rain alert of 50 mm in two
    hours, ``rain_alert_mm``) that takes the river over the kiosk's flood threshold (150 cm by default) within
    about five minutes, and a mains outage. Random showers and outages begin only after ``quiet_until_s``."""

    flood_at_s: float = 30.0
    flood_rain_mm_h: float = 300.0
    flood_rain_s: float = 720.0
    power_cut_at_s: float = 90.0
    power_cut_s: float = 150.0
    quiet_until_s: float = 900.0


SCENARIOS = {"demo": Scenario()}


class World:
    def __init__(self, seed: str = "anjungan", now: float | None = None, scenario: Scenario | None = None):
        self.rng = random.Random(seed)
        self.t = time.time() if now is None else now
        self.start = self.t
        self.scenario = scenario
        self._done: set[str] = set()
        self.rain_mm_h = 0.0
        self._rain_left_s = 0.0
        self.level_cm = 80.0 + self.rng.uniform(-10, 10)  # water above the gauge zero
        self.base_level_cm = self.level_cm
        self.mains_up = True
        self._outage_left_s = 0.0
        self.energy_wh = self.rng.uniform(1000, 50000)
        self.rain_total_mm = 0.0

    def advance(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        while self.t < now:
            dt = min(10.0, now - self.t)
            self._step(dt)
            self.t += dt

    def _scripted(self) -> bool:
        """Start the scenario's events when their time comes; True while random events are held back."""
        plan = self.scenario
        if plan is None:
            return False
        since = self.t - self.start
        if "flood" not in self._done and since >= plan.flood_at_s:
            self._done.add("flood")
            self.rain_mm_h, self._rain_left_s = plan.flood_rain_mm_h, plan.flood_rain_s
        if "power" not in self._done and since >= plan.power_cut_at_s:
            self._done.add("power")
            self.mains_up, self._outage_left_s = False, plan.power_cut_s
        return since < plan.quiet_until_s

    def _step(self, dt: float) -> None:
        rng = self.rng
        held = self._scripted()
        if self._rain_left_s > 0:
            self._rain_left_s -= dt
            if self._rain_left_s <= 0:
                self.rain_mm_h = 0.0
        elif not held and rng.random() < dt / 600:  # a shower every ten minutes or so
            self.rain_mm_h = rng.choice((2.0, 5.0, 12.0, 30.0, 60.0))
            self._rain_left_s = rng.uniform(60, 600)
        self.rain_total_mm += self.rain_mm_h * dt / 3600
        # the river, a linear reservoir: heading for its base level plus RIVER_CM_PER_MM_H for each mm/h of rain,
        # quickly while it rises (RISE_S), slowly as it falls back (FALL_S)
        target = self.base_level_cm + RIVER_CM_PER_MM_H * self.rain_mm_h
        tau = RISE_S if target > self.level_cm else FALL_S
        self.level_cm += (target - self.level_cm) * min(1.0, dt / tau)
        if self._outage_left_s > 0:
            self._outage_left_s -= dt
            self.mains_up = self._outage_left_s <= 0
        elif not held and rng.random() < dt / 1200:  # an outage every twenty minutes or so
            self.mains_up = False
            self._outage_left_s = rng.uniform(20, 180)
        if self.mains_up:
            self.energy_wh += self.power_w() * dt / 3600

    def hour(self) -> float:
        return ((self.t / 3600) + WIB_OFFSET_H) % 24

    def temp_c(self) -> float:
        day = 27.0 + 4.5 * math.sin(2 * math.pi * (self.hour() - 9) / 24)
        return day - (2.5 if self.rain_mm_h else 0.0)

    def rh_pct(self) -> float:
        rh = 78 - 3.0 * (self.temp_c() - 27) + (15 if self.rain_mm_h else 0)
        return max(35.0, min(99.0, rh))

    def pressure_hpa(self) -> float:
        return 1009.0 + 1.5 * math.sin(2 * math.pi * self.hour() / 12) - (1.5 if self.rain_mm_h else 0.0)

    def mains_v(self) -> float:
        return 221.0 + 4 * math.sin(self.t / 700) if self.mains_up else 0.0

    def current_a(self) -> float:
        if not self.mains_up:
            return 0.0
        evening = 1.0 if 17 <= self.hour() <= 22 else 0.0
        return 0.8 + 1.5 * evening + 0.3 * math.sin(self.t / 90)

    def power_factor(self) -> float:
        return 0.92 if self.mains_up else 0.0

    def power_w(self) -> float:
        return self.mains_v() * self.current_a() * self.power_factor()

    def freq_hz(self) -> float:
        return 50.0 + 0.05 * math.sin(self.t / 50) if self.mains_up else 0.0
