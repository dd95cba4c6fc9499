"""The firmware's own MQTT transport (run on CPython) -> a real Mosquitto -> the gateway's MQTT reader -> store.

Frames the node buffers while the broker is unreachable are delivered, in order, once it is back.
"""

from __future__ import annotations

import sys
import time
import types
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.ingest.mqtt_reader import MqttReader
from gateway.simulator import hal
from gateway.store import Store
from tests.fixtures.mosquitto import Broker, free_port

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def load_firmware(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, types.ModuleType]:
    """Import firmware modules on CPython with MicroPython's `micropython` and `time` APIs provided."""
    micropython = types.ModuleType("micropython")
    micropython.const = lambda x: x  # type: ignore[attr-defined]
    utime = types.ModuleType("time")
    for name in ("ticks_ms", "ticks_us", "ticks_add", "ticks_diff"):
        setattr(utime, name, getattr(hal, name))
    utime.sleep_ms = lambda ms: time.sleep(ms / 1000)  # type: ignore[attr-defined]
    utime.time = time.time  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "micropython", micropython)
    monkeypatch.setitem(sys.modules, "time", utime)
    loaded = {}
    for name in names:
        module = types.ModuleType(name)
        module.__file__ = str(FIRMWARE / f"{name}.py")
        monkeypatch.setitem(sys.modules, name, module)
        exec(compile((FIRMWARE / f"{name}.py").read_text(), module.__file__, "exec"), module.__dict__)
        loaded[name] = module
    monkeypatch.setitem(sys.modules, "time", time)
    return loaded


def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_firmware_mqtt_link_buffers_then_delivers_through_a_real_broker(
    monkeypatch: pytest.MonkeyPatch, store: Store, mosquitto: Broker
) -> None:
    fw = load_firmware(monkeypatch, "ring", "frame", "mqtt", "transport")
    reader = MqttReader(store.writer(), mosquitto.host, mosquitto.port, client_id=f"t-{uuid.uuid4().hex[:8]}")
    reader.start()
    try:
        wait_for(reader.subscribed.is_set)
        target = {"port": free_port()}  # nothing listens there yet: the node's broker is "down"

        def make_client() -> Any:
            return fw["mqtt"].MQTTClient("fw-mqtt-01", mosquitto.host, target["port"], keepalive=30)

        link = fw["transport"].MqttLink("fw-mqtt-01", make_client, capacity=64)
        link._next_try = None
        framer = fw["frame"].Framer("fw-mqtt-01", 4)
        lines = [framer.hello(1, 90_000, rssi=-60)]
        lines += [framer.reading({"water_cm": 100.0 + i / 4, "temp_c": 27.0}) for i in range(30)]
        for line in lines[:10]:
            assert link.send(line) is False  # kept in the node's ring buffer
        assert len(link.buffer) == 10
        target["port"] = mosquitto.port  # the broker comes back
        link._next_try = None
        assert link.flush() is True
        for line in lines[10:]:
            assert link.send(line) is True
        link.client.disconnect()
        wait_for(lambda: store.conn.execute("SELECT count(*) FROM frames").fetchone()[0] == len(lines))
    finally:
        reader.close()
    rows = list(store.readings(node="fw-mqtt-01"))
    assert len(rows) == 60  # 30 readings frames x 2 measurements, each once
    water = [r["value"] for r in rows if r["name"] == "water_cm"]
    assert water == [100.0 + i / 4 for i in range(30)]
    node = store.nodes()[0]
    assert node["node"] == "fw-mqtt-01" and node["boot"] == 4 and node["rssi"] == -60
