"""The MQTT reader against a real Mosquitto: storing, topic checks, a broker restart, a SIGKILLed ingest."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.frame import reading_line
from gateway.ingest import mqtt_reader
from gateway.ingest.mqtt_reader import MqttReader
from gateway.store import Store
from tests.fixtures.disk import fill
from tests.fixtures.mosquitto import Broker
from tests.ingest.helpers import anjungan, count, frame_keys, stop, wait_for


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test alone: restarting the session's broker would disturb the others, and so would the
    persistent sessions these tests leave, each queueing every later message for a reader that never comes."""
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


class Publisher:
    """A node-side client: publishes frames with QoS 1 and knows which ones the broker accepted."""

    def __init__(self, broker: Broker):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, node: str, payload: bytes, topic: str | None = None) -> None:
        self.infos.append(self.client.publish(topic or f"anjungan/node/{node}/up", payload, qos=1))

    def wait_accepted(self, timeout: float = 30.0) -> int:
        for info in self.infos:
            info.wait_for_publish(timeout)
        return sum(info.is_published() for info in self.infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _reader(store: Store, broker: Broker, client_id: str | None = None) -> MqttReader:
    client_id = client_id or f"test-{uuid.uuid4().hex[:8]}"
    reader = MqttReader(store.writer(), broker.host, broker.port, client_id=client_id)
    reader.start()
    wait_for(reader.subscribed.is_set, what="the subscription")
    return reader


def test_frames_are_stored_and_topics_checked(store: Store, own_broker: Broker) -> None:
    reader = _reader(store, own_broker)
    publisher = Publisher(own_broker)
    try:
        for q in range(50):
            publisher.publish("ws-01", reading_line("ws-01", 3, q, {"rain_mm": q / 10}))
        publisher.publish("ws-01", reading_line("ws-01", 3, 0, {"rain_mm": 0.0}))  # a duplicate: kept once
        publisher.publish(
            "ws-02", reading_line("ws-01", 3, 99, {"rain_mm": 9.9})
        )  # under another node's topic
        publisher.publish("ws-02", b"Traceback (most recent call last):")
        assert publisher.wait_accepted() == 53
        wait_for(lambda: count(store, "console") == 2, what="the two console lines")
        wait_for(lambda: len(frame_keys(store, "ws-01")) == 50, what="the frames")
        assert frame_keys(store, "ws-01") == [("ws-01", 3, q) for q in range(50)]
        assert [c["line"][:30] for c in store.console("ws-02")] == [
            '@{"v":1,"k":"r","n":"ws-01","b',
            "Traceback (most recent call la",
        ]
        assert {n["node"]: n["bad_lines"] for n in store.nodes()} == {"ws-01": 0, "ws-02": 2}
    finally:
        publisher.close()
        reader.close()


def test_each_line_of_a_message_is_read_as_serial_output_is(store: Store, own_broker: Broker) -> None:
    """One message holding two frames (and a line that is not a frame) separated by newlines: both frames are
    stored once, the bad line is counted and kept."""
    reader = _reader(store, own_broker)
    publisher = Publisher(own_broker)
    try:
        two = reading_line("ws-03", 1, 0, {"rain_mm": 0.1}) + reading_line("ws-03", 1, 1, {"rain_mm": 0.2})
        publisher.publish("ws-03", two)
        publisher.publish("ws-03", reading_line("ws-03", 1, 2, {"rain_mm": 0.3}) + b"\r\nnot a frame\r\n\r\n")
        publisher.publish("ws-03", two)  # again: kept once
        assert publisher.wait_accepted() == 3
        wait_for(lambda: count(store, "console") == 1, what="the console line")
        wait_for(lambda: len(frame_keys(store, "ws-03")) == 3, what="the frames")
        wait_for(lambda: reader.acked == 3, what="the acknowledgements")
        assert frame_keys(store, "ws-03") == [("ws-03", 1, q) for q in range(3)]
        assert [c["line"] for c in store.console("ws-03")] == ["not a frame"]
        assert {n["node"]: n["bad_lines"] for n in store.nodes()} == {"ws-03": 1}
        assert reader.frames == 5 and reader.bad_messages == 1
    finally:
        publisher.close()
        reader.close()


def test_a_broker_restart_loses_nothing(store: Store, own_broker: Broker) -> None:
    reader = _reader(store, own_broker)
    try:
        publisher = Publisher(own_broker)
        for q in range(100):
            publisher.publish("pw-01", reading_line("pw-01", 1, q, {"mains_v": 220.0}))
        assert publisher.wait_accepted() == 100
        publisher.close()
        wait_for(lambda: len(frame_keys(store)) == 100, what="the frames before the restart")
        own_broker.restart()
        publisher = Publisher(own_broker)  # published at once: queued in our session until we are back
        for q in range(100, 200):
            publisher.publish("pw-01", reading_line("pw-01", 1, q, {"mains_v": 221.0}))
        assert publisher.wait_accepted() == 100
        publisher.close()
        wait_for(lambda: len(frame_keys(store)) == 200, timeout=30, what="the frames after the restart")
        assert frame_keys(store) == [("pw-01", 1, q) for q in range(200)]
        assert reader.connected.is_set()
    finally:
        reader.close()


@pytest.mark.slow
def test_sigkill_of_the_ingest_loses_nothing_the_broker_accepted(
    tmp_path: Path, config_file: Path, store: Store, own_broker: Broker
) -> None:
    """Frames are acknowledged to the broker only after their commit: a SIGKILL mid-stream loses none."""
    log = tmp_path / "ingest.log"
    env = {"ANJUNGAN_MQTT_CLIENT_ID": f"kill-{uuid.uuid4().hex[:8]}"}
    args = ("--config", str(config_file), "ingest", "--mqtt", f"{own_broker.host}:{own_broker.port}")
    first = anjungan(*args, log=log, env=env)
    second = None
    publisher = Publisher(own_broker)
    try:
        wait_for(lambda: "subscribed" in log.read_text(), timeout=20, what="the ingest to subscribe")
        total, killed_at = 3000, None
        for q in range(total):
            publisher.publish("wl-09", reading_line("wl-09", 5, q, {"water_cm": q}))
            if q == 1500:
                wait_for(lambda: len(frame_keys(store)) >= 200, timeout=20, what="the ingest to store some")
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                killed_at = len(frame_keys(store))
        assert publisher.wait_accepted() == total
        assert killed_at is not None and 0 < killed_at < total
        second = anjungan(*args, log=log, env=env)
        wait_for(lambda: len(frame_keys(store)) >= total, timeout=60, what="every accepted message")
        assert stop(second) == 0
        assert frame_keys(store) == [("wl-09", 5, q) for q in range(total)]
        assert count(store, "readings") == total  # no frame stored twice
    finally:
        publisher.close()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def _frame_line(json_text: str) -> bytes:
    """A frame line with a valid CRC around ``json_text`` exactly as given (escapes and all)."""
    payload = json_text.encode()
    return b"@" + payload + b"*" + f"{zlib.crc32(payload):08x}".encode() + b"\n"


def test_a_message_that_can_never_be_stored_is_acknowledged_once(
    store: Store, own_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 hellos whose fw holds a lone surrogate (more than the broker's in-flight window of 20), then good
    frames: the bad ones are kept as bad lines and acknowledged, the good ones all arrive, and nothing is
    delivered again on the next connection."""
    monkeypatch.setattr(mqtt_reader, "CLOSE_WAIT_S", 60.0)  # close() waits for the broker, however slow
    client_id = f"poison-{uuid.uuid4().hex[:8]}"
    reader = _reader(store, own_broker, client_id)
    publisher = Publisher(own_broker)
    try:
        for q in range(25):
            publisher.publish(
                "wl-07", _frame_line(rf'{{"v":1,"k":"h","n":"wl-07","b":1,"q":{q},"fw":"0.1.0\ud800"}}')
            )
        for q in range(25, 30):
            publisher.publish("wl-07", reading_line("wl-07", 1, q, {"water_cm": 30.0}))
        assert publisher.wait_accepted() == 30
        wait_for(lambda: len(frame_keys(store)) == 5, timeout=20, what="the good frames behind the bad ones")
        wait_for(lambda: reader.acked == 30, what="every message to be acknowledged")
        assert reader.bad_messages == 25
        assert frame_keys(store) == [("wl-07", 1, q) for q in range(25, 30)]
        assert count(store, "console") == 25 and store.nodes()[0]["bad_lines"] == 25
        reader.close()
        # the same session: anything unacknowledged comes again
        reader = _reader(store, own_broker, client_id)
        publisher.publish("wl-07", reading_line("wl-07", 1, 30, {"water_cm": 31.0}))
        assert publisher.wait_accepted() == 31
        wait_for(lambda: len(frame_keys(store)) == 6, what="the frame after the reconnection")
        assert reader.messages == 1  # the bad messages were acknowledged: not one came again
        assert count(store, "console") == 25
    finally:
        publisher.close()
        reader.close()


def test_an_ingest_started_again_at_once_gets_nothing_it_had_acknowledged(
    store: Store, own_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PUBACKs of 15 refused messages are sent while the broker is stopped (SIGSTOP), so they wait unread in
    its socket; the reader closes and a new one with the same client id connects at once. The broker reads
    the old connection's packets and the new connection in an order of its own: without the close barrier it
    could take the session over first and drop the unread PUBACKs, delivering all 15 again. close() returns
    only once the broker has read them, so the new connection gets nothing again."""
    monkeypatch.setattr(mqtt_reader, "CLOSE_WAIT_S", 60.0)  # the barrier waits for the broker, however slow
    client_id = f"again-{uuid.uuid4().hex[:8]}"
    reader = _reader(store, own_broker, client_id)
    publisher = Publisher(own_broker)
    assert own_broker.proc is not None  # (a pid of 0 would signal this whole process group)
    broker_pid = own_broker.proc.pid
    lock = sqlite3.connect(store.path, isolation_level=None)
    resume: threading.Timer | None = None
    try:
        lock.execute("BEGIN IMMEDIATE")  # the writer holds the messages: no PUBACK goes yet
        for q in range(15):
            publisher.publish(
                "wl-08", _frame_line(rf'{{"v":1,"k":"h","n":"wl-08","b":1,"q":{q},"fw":"\ud800"}}')
            )
        assert publisher.wait_accepted() == 15
        wait_for(lambda: reader.messages == 15, what="the 15 messages to reach the reader")
        os.kill(broker_pid, signal.SIGSTOP)
        lock.execute("ROLLBACK")
        wait_for(lambda: reader.acked == 15, timeout=30, what="the 15 PUBACKs to be sent")
        resume = threading.Timer(0.5, os.kill, (broker_pid, signal.SIGCONT))
        resume.start()
        reader.close()  # returns once the broker, running again, has read the PUBACKs
        reader = _reader(store, own_broker, client_id)
        publisher.publish("wl-08", reading_line("wl-08", 1, 15, {"water_cm": 12.0}))
        assert publisher.wait_accepted() == 16
        wait_for(lambda: frame_keys(store, "wl-08") == [("wl-08", 1, 15)], what="the frame after the restart")
        assert reader.messages == 1  # not one of the 15 came again
        assert count(store, "console") == 15
    finally:
        if resume is not None:
            resume.join()
        os.kill(broker_pid, signal.SIGCONT)
        lock.close()
        publisher.close()
        reader.close()


def test_a_reader_that_never_had_a_connack_closes_without_a_barrier(
    store: Store, own_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """With the broker stopped (SIGSTOP) the connection is open but never acknowledged: no PUBACK can have gone
    on it, so close() does not wait for an UNSUBACK that cannot come, and says nothing about one."""
    assert own_broker.proc is not None  # (a pid of 0 would signal this whole process group)
    broker_pid = own_broker.proc.pid
    os.kill(broker_pid, signal.SIGSTOP)
    reader = MqttReader(
        store.writer(), own_broker.host, own_broker.port, client_id=f"t-{uuid.uuid4().hex[:8]}"
    )
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.ingest.mqtt_reader"):
            reader.start()
            wait_for(lambda: reader.client.socket() is not None, what="the TCP connection")
            reader.close()
        assert not reader.connected.is_set()
        assert "UNSUBACK" not in caplog.text
    finally:
        os.kill(broker_pid, signal.SIGCONT)
        reader.close()


def test_a_full_disk_stalls_the_mqtt_ingest_then_it_recovers_by_itself(
    tiny_disk: Path, own_broker: Broker
) -> None:
    """QoS 1 frames arriving while the store's disk is full fill the broker's in-flight window; once space is
    freed the ingest carries on by itself and every frame the broker held is stored once."""
    with Store.open(tiny_disk / "data" / "anjungan.db") as store:
        writer = store.writer()
        reader = _reader(store, own_broker)
        publisher = Publisher(own_broker)
        try:
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next commit must grow the WAL
            filler = fill(tiny_disk)
            for q in range(200):
                publisher.publish("wl-08", reading_line("wl-08", 2, q, {"water_cm": q}))
            assert publisher.wait_accepted() == 200
            wait_for(lambda: writer.stalled is not None, what="the writer to stall on the full disk")
            assert "disk is full" in (writer.stalled or "")
            wait_for(lambda: reader.messages >= 20, what="the broker's in-flight window to fill")
            assert frame_keys(store) == []
            filler.unlink()  # space returns; nobody restarts the ingest
            wait_for(lambda: frame_keys(store), timeout=10, what="the ingest to resume within seconds")
            wait_for(lambda: len(frame_keys(store)) == 200, timeout=60, what="every frame the broker held")
            assert frame_keys(store) == [("wl-08", 2, q) for q in range(200)]
            assert count(store, "readings") == 200
        finally:
            publisher.close()
            reader.close()
