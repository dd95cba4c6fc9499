"""The MQTT side: ``anjungan/node/<id>/up`` at QoS 1, persistent session, acknowledged after commit.

The client turns paho's automatic acknowledgement off (``manual_ack_set(True)``) and sends the PUBACK of a
message only when the store's writer has committed what the message carried (or kept it in the console log
when it is not a frame, or when the store refused it for good). Until then the broker keeps the message for
our session (``clean_session=False``, a fixed client id), so a crash of the ingest at any moment loses nothing
the broker had accepted: it delivers again whatever was not acknowledged, and the store keeps a frame once
however often it arrives. While the store cannot be written (locked, disk full) the writer holds the
messages and commits them once it can, so their PUBACKs follow then and the broker's in-flight window opens
again by itself.

Closing waits until the broker has read the PUBACKs already sent. A broker reads a connection's packets in
order, but it may take a new connection with the same client id (the ingest started again at once) before it
has read the rest of the old one, and it then drops what was unread (seen with Mosquitto 2.0.11: the PUBACKs
of 25 messages were still unread when the new connection took the session over, and those 25 came again). So
:meth:`MqttReader.close` first sends an UNSUBSCRIBE of a filter it never subscribed (:data:`CLOSE_BARRIER`) and
waits for its UNSUBACK. The broker sends one even when nothing was unsubscribed (MQTT 3.1.1 section 3.10.4,
[MQTT-3.10.4-5]), and, reading the connection's packets in order, only after every packet sent before it. Only
then comes the DISCONNECT. A PUBACK of a commit that ends during that wait is not covered.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.errors import FrameError, StoreRefusedError
from gateway.frame import Frame, parse_line
from gateway.store.writer import ReadingWriter
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

TOPIC = "anjungan/node/+/up"
_TOPIC_RE = re.compile(r"anjungan/node/([^/]+)/up")
_NODE_RE = re.compile(r"[a-z0-9-]{1,32}")
KEEPALIVE_S = 30
# how long close() waits for the barrier's UNSUBACK, and then for the DISCONNECT to go: twice this stays
# within the supervisor's grace before SIGKILL (gateway.supervise.STOP_GRACE_S)
CLOSE_WAIT_S = 2.0
# a topic filter nobody subscribes: unsubscribing it changes nothing, and its UNSUBACK says the broker has read
# every packet sent before it on this connection
CLOSE_BARRIER = "anjungan/ingest/close-barrier"


class MqttReader:
    """Subscribes node frames from a broker into the store's writer until :meth:`close`."""

    def __init__(
        self,
        writer: ReadingWriter,
        host: str,
        port: int = 1883,
        *,
        client_id: str,
        username: str = "",
        password: str = "",
        on_frames: Callable[[Sequence[Frame]], None] | None = None,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
    ):
        self.writer = writer
        self.host = host
        self.port = port
        self.client_id = client_id
        self.on_frames = on_frames
        self.source = f"mqtt://{host}:{port}"
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.messages = 0
        self.frames = 0
        self.bad_messages = 0
        self.acked = 0  # PUBACKs handed to the client (sent before the DISCONNECT of a close)
        self._down = threading.Event()  # set by on_disconnect
        self._barrier_acked = threading.Event()  # set by on_unsubscribe: only close() unsubscribes
        self.trouble = WarnOnce(log, f"mqtt {host}:{port}")
        self._generation = 0  # counts connections; an ack is only sent on the connection its message came on
        self._lock = threading.Lock()
        self._started = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if username:
            client.username_pw_set(username, password or None)
        client.manual_ack_set(True)
        client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        self.client = client

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> MqttReader:
        if not self._started:
            self._started = True
            self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
            self.client.loop_start()
        return self

    def close(self) -> None:
        """Disconnect once the broker has read the PUBACKs sent so far (see the module's docstring).

        Waits at most :data:`CLOSE_WAIT_S` for the barrier's UNSUBACK and as long again for the DISCONNECT to
        be sent. A PUBACK lost all the same (a broker that does not answer) is harmless for frames, which the
        broker delivers again and the store keeps once, but a refused message would be kept once more.
        """
        if not self._started:
            return
        self._started = False
        self._down.clear()
        self._barrier_acked.clear()
        # without a CONNACK on this connection no PUBACK went on it either, so there is nothing to wait for
        barrier = (
            self.connected.is_set() and self.client.unsubscribe(CLOSE_BARRIER)[0] == mqtt.MQTT_ERR_SUCCESS
        )
        if barrier and not self._barrier_acked.wait(CLOSE_WAIT_S):
            log.warning("mqtt %s:%s: no UNSUBACK in %s s; closing anyway", self.host, self.port, CLOSE_WAIT_S)
        if self.client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            self._down.wait(CLOSE_WAIT_S)
        self.client.loop_stop()

    def __enter__(self) -> MqttReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- callbacks (paho's network thread) -------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.trouble.failed(f"refused: {reason}")
            return
        with self._lock:
            self._generation += 1
        if self.trouble.failing:
            self.trouble.recovered("connected again")
        else:
            log.info("mqtt %s:%s: connected as %s", self.host, self.port, self.client_id)
        self.connected.set()
        client.subscribe(TOPIC, qos=1)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.trouble.failed("cannot connect")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self._down.set()
        if self._started:
            self.trouble.failed(f"disconnected: {reason}")

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("mqtt %s:%s: subscription to %s refused: %s", self.host, self.port, TOPIC, reasons)
            return
        log.info("mqtt %s:%s: subscribed to %s", self.host, self.port, TOPIC)
        self.subscribed.set()

    def _on_unsubscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._barrier_acked.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages += 1
        generation = self._generation
        future = self._store(message)
        mid, qos = message.mid, message.qos
        future.add_done_callback(lambda done: self._ack(done, mid, qos, generation))

    # -- storing and acknowledging ---------------------------------------------------------------------------
    def _store(self, message: mqtt.MQTTMessage) -> Future[int]:
        """Submit the message's frames (or console lines); the Future resolves after they all committed.

        A message is read like serial output: each line (split at ``\n``; lines of white space only are
        skipped) is parsed on its own, so every frame of a message is stored once and every line that is not
        a frame of the topic's node is kept in the console log and counted as bad (a blank message: one bad
        line).
        """
        match = _TOPIC_RE.fullmatch(message.topic)
        topic_node = match.group(1) if match else None
        node = topic_node if topic_node and _NODE_RE.fullmatch(topic_node) else None
        source = node or message.topic
        payload = bytes(message.payload)
        frames: list[Frame] = []
        pending: list[Future[int]] = []
        lines = [line for line in payload.split(b"\n") if line.strip()] or [payload]  # blank: one bad line
        for line in lines:
            try:
                frame = parse_line(line)
                if frame.node != topic_node:
                    raise FrameError(f"frame of node {frame.node!r} published under {message.topic}")
            except FrameError as err:
                self.bad_messages += 1
                log.debug("mqtt %s: not a frame: %s", message.topic, err)
                pending.append(self.writer.console(source, line[:1100], node=node))
                continue
            frames.append(frame)
        if frames:
            self.frames += len(frames)
            pending.append(self.writer.submit(frames, source=self.source))
            if self.on_frames is not None:
                self.on_frames(frames)
        return _all_of(pending)

    def _ack(self, done: Future[int], mid: int, qos: int, generation: int) -> None:
        """Acknowledge to the broker only what the store committed, on the connection it arrived on.

        A message the store refused for good (StoreRefusedError: kept in the console log as a bad line) is
        acknowledged too: delivering it again could never store it, and unacknowledged messages would fill
        the broker's in-flight window until nothing else arrives.
        """
        err = done.exception()
        if isinstance(err, StoreRefusedError):
            with self._lock:
                self.bad_messages += 1
            log.warning("mqtt: message %d refused by the store, acknowledged: %s", mid, err)
        elif err is not None:
            log.error("mqtt: message %d not saved (%s): the broker will deliver it again", mid, err)
            return
        if qos == 0 or generation != self._generation:
            return  # a new connection: the broker delivers the message again, and the store keeps it once
        self.client.ack(mid, qos)
        with self._lock:
            self.acked += 1


def _all_of(futures: list[Future[int]]) -> Future[int]:
    """A Future resolved once every one of ``futures`` is: the sum of their results, else their failure (one
    that is not StoreRefusedError first: that message must come again; then StoreRefusedError)."""
    if len(futures) == 1:
        return futures[0]
    combined: Future[int] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_done: Future[int]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            fatal = [e for e in errors if not isinstance(e, StoreRefusedError)]
            combined.set_exception((fatal or errors)[0])  # type: ignore[arg-type]
        else:
            combined.set_result(sum(f.result() for f in futures))

    for future in futures:
        future.add_done_callback(one_done)
    return combined
