# Where frames go: the USB REPL's stdout (serial) or an MQTT broker with a ring buffer while it is away.
import sys
import time

import ring

_RETRY_MS = 30000


class SerialLink:
    """Frames as lines on stdout (the USB serial REPL); the gateway reads them there."""

    def __init__(self, out=None):
        self.out = out or sys.stdout

    def send(self, line):
        self.out.write(line.decode() + "\n")
        return True

    def poll(self):
        pass

    def rssi(self):
        return None


class MqttLink:
    """Publish each line to anjungan/node/<id>/up with QoS 1; keep up to ``capacity`` lines meanwhile."""

    def __init__(self, node_id, make_client, capacity=64, echo=None, wlan=None):
        self.topic = "anjungan/node/%s/up" % node_id
        self.make_client = make_client
        self.buffer = ring.Ring(capacity)
        self.echo = echo  # also print frames on the console (handy when the node is on USB)
        self.wlan = wlan
        self.client = None
        self._next_try = None

    def send(self, line):
        self.buffer.push(line)
        if self.echo is not None:
            self.echo.send(line)
        return self.flush()

    def poll(self):
        self.flush()

    def flush(self):
        """Publish buffered lines oldest first; True when the buffer is empty afterwards."""
        while len(self.buffer):
            if self.client is None and not self._connect():
                return False
            try:
                self.client.publish(self.topic, self.buffer.peek(), 1)
            except OSError:
                self._drop()
                return False
            self.buffer.pop()
        return True

    def _connect(self):
        now = time.ticks_ms()
        if self._next_try is not None and time.ticks_diff(self._next_try, now) > 0:
            return False
        try:
            client = self.make_client()
            client.connect()
        except OSError:
            self._next_try = time.ticks_add(now, _RETRY_MS)
            return False
        self.client = client
        self._next_try = None
        return True

    def _drop(self):
        if self.client is not None:
            self.client.close()
        self.client = None
        self._next_try = time.ticks_add(time.ticks_ms(), _RETRY_MS)

    def rssi(self):
        if self.wlan is None:
            return None
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError, TypeError):
            return None
