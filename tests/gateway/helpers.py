"""Small builders shared by the gateway suites."""

from __future__ import annotations

from gateway.frame import Frame

VALUES = {"water_cm": 131.5, "temp_c": 27.9, "rain_mm": 0.2, "hum_pct": 81.0, "bat_v": 3.71}


def reading(node: str = "dmk-wl-01", boot: int = 1, seq: int = 0, **values: float) -> Frame:
    return Frame("r", node, boot, seq, dict(values or VALUES))


def readings(count: int, node: str = "dmk-wl-01", boot: int = 1, start: int = 0) -> list[Frame]:
    return [reading(node, boot, q, water_cm=100.0 + q, temp_c=27.0) for q in range(start, start + count)]
