"""The app loop, the configuration and the MQTT uplink on a real MicroPython with fake sensors and socket."""

from __future__ import annotations

from gateway.frame import parse_line


def test_app_cycle_sends_readings_hello_and_errors(micropython):
    code = """
import json, time
import app, nodecfg
class Link:
    def __init__(self):
        self.lines = []
    def send(self, line):
        self.lines.append(line)
    def poll(self):
        pass
    def rssi(self):
        return -70
class Good:
    def read(self):
        return {'water_cm': 120.5, 'distance_cm': 179.5}
class Flaky:
    n = 0
    def read(self):
        self.n += 1
        if self.n in (2, 3):
            raise OSError(110)
        return {'temp_c': 27.5}
cfg = nodecfg.complete({'node_id': 'dmk-wl-01', 'kind': 'water-level', 'interval_s': 0.01}, 'rp2')
link = Link()
a = app.App(cfg, link, {'sonar': Good(), 'dht22': Flaky(), 'bme280': 'no ack'}, 7)
a.collect = lambda: None  # the WASI build cannot scan wasm locals: an explicit collection may free live objects
a.run(cycles=4)
bad = []
for raw in ({'node_id': 'Bad ID'}, {'kind': 'toaster'}, {'transport': 'mqtt'}, {'interval_s': 0}):
    try:
        nodecfg.complete(raw)
    except nodecfg.ConfigError as e:
        bad.append(str(e))
print('RESULT', json.dumps({'pins': cfg['pins'], 'sensors': cfg['sensors'], 'bad': bad}))
for line in link.lines:
    print(line.decode())
"""
    r, out = micropython.result(code)
    assert r["pins"]["sonar_trig"] == 2 and r["pins"]["i2c_sda"] == 4  # the Pico W defaults
    assert r["sensors"] == ["sonar", "dht22"]
    assert len(r["bad"]) == 4 and "node_id" in r["bad"][0] and "mqtt.host" in r["bad"][2]
    frames = [parse_line(line.encode()) for line in out.splitlines() if line.startswith("@")]
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert all((f.node, f.boot) == ("dmk-wl-01", 7) for f in frames)
    kinds = [f.kind for f in frames]
    assert kinds[0] == "h" and frames[0].extra["rssi"] == -70 and frames[0].extra["mem_free"] > 0
    errors = [f.extra["msg"] for f in frames if f.kind == "e"]
    # bme280 reported once (then quiet until the next hello period); dht22 once when it starts failing
    assert errors == ["bme280: no ack", "dht22: timeout"]
    readings = [f.values for f in frames if f.kind == "r"]
    assert len(readings) == 4
    assert readings[0] == {"water_cm": 120.5, "distance_cm": 179.5, "temp_c": 27.5}
    assert readings[1] == {"water_cm": 120.5, "distance_cm": 179.5}


def test_the_first_hellos_come_a_minute_apart_then_every_hello_period(micropython):
    code = """
import json, time
import app, nodecfg
class Link:
    def __init__(self):
        self.lines = []
    def send(self, line):
        self.lines.append(line)
    def poll(self):
        pass
    def rssi(self):
        return None
class Good:
    def read(self):
        return {'water_cm': 120.5}
cfg = nodecfg.complete({'node_id': 'dmk-wl-01', 'kind': 'water-level', 'interval_s': 0.01}, 'rp2')
link = Link()
a = app.App(cfg, link, {'sonar': Good()}, 3)
a.collect = lambda: None
a.hello()  # at boot
due = []
for _ in range(4):
    a.last_hello = time.ticks_add(time.ticks_ms(), -61000)  # a minute and a second went by
    due.append(a.hello_due())
    a.cycle()
print('RESULT', json.dumps({'due': due, 'hellos': a.hellos}))
"""
    r, _out = micropython.result(code)
    # a hello at boot and two a minute apart (a gateway that was not yet listening hears one), then every
    # hello_min (15 minutes): a minute is not enough any more
    assert r == {"due": [True, True, False, False], "hellos": 3}


def test_mqtt_publish_qos1_and_buffer_while_the_broker_is_away(micropython):
    code = """
import json, mqtt, transport
class FakeSock:
    def __init__(self, replies):
        self.replies = replies
        self.sent = b''
        self.closed = False
    def write(self, data):
        self.sent += data
    def read(self, n):
        out, self.replies = self.replies[:n], self.replies[n:]
        return out
    def close(self):
        self.closed = True
socks = []
broker_up = [False]
def make_client():
    if not broker_up[0]:
        raise OSError(113)  # EHOSTUNREACH
    s = FakeSock(b'\\x20\\x02\\x00\\x00' + b'\\x40\\x02\\x00\\x01' + b'\\x40\\x02\\x00\\x02' + b'\\x40\\x02\\x00\\x03')
    socks.append(s)
    return mqtt.MQTTClient('anjungan-n1', 'broker', sock=s)
link = transport.MqttLink('n1', make_client, capacity=2)
r1 = link.send(b'@one')
r2 = link.send(b'@two')
r3 = link.send(b'@three')
buffered = len(link.buffer)
broker_up[0] = True
link._next_try = None
r4 = link.send(b'@four')
print('RESULT', json.dumps({'r': [r1, r2, r3, r4], 'buffered': buffered, 'left': len(link.buffer),
    'dropped': link.buffer.dropped, 'sent': list(socks[0].sent),
    'connect': list(mqtt.connect_packet('c', 30, 'u', 'p'))}))
"""
    r, _ = micropython.result(code)
    assert r["r"] == [False, False, False, True]
    assert r["buffered"] == 2 and r["dropped"] == 2 and r["left"] == 0
    sent = bytes(r["sent"])
    connect_len = sent[1] + 2
    assert sent[:connect_len] == b"\x10\x17\x00\x04MQTT\x04\x02\x00\x3c\x00\x0banjungan-n1"
    topic = b"\x00\x13anjungan/node/n1/up"
    publishes = sent[connect_len:]
    # QoS 1 publishes, oldest first, of what the ring of 2 kept: "@three" and "@four"
    assert publishes == b"\x32\x1d" + topic + b"\x00\x01@three" + b"\x32\x1c" + topic + b"\x00\x02@four"
    assert bytes(r["connect"]) == b"\x10\x13\x00\x04MQTT\x04\xc2\x00\x1e\x00\x01c\x00\x01u\x00\x01p"
