"""The firmware's pure logic on a real MicroPython: frames, ring buffer, median, water level, rain debounce.

Each test is one fresh VM (about a second), so related checks are batched into one run.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from gateway.frame import parse_line

# The project's copy of the contract's frame vectors (see tests/vectors/README.md).
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "frames.json"


def _valid_vector_frames() -> list[dict]:
    cases = json.loads(VECTORS.read_text())["cases"]
    return [c["frame"] for c in cases if c["valid"]]


def test_frames_from_micropython_parse_on_the_gateway(micropython):
    vectors = _valid_vector_frames()
    code = f"""
import json, frame
vectors = json.loads({json.dumps(json.dumps(vectors))})
for obj in vectors:
    print(frame.encode(obj).decode())
f = frame.Framer('dmk-wl-01', 12)
print(f.hello(4, 81234, -67, 3.71).decode())
print(f.reading({{'water_cm': 131.5, 'temp_c': 27.9, 'ok': True, 'bad': 'x', 'nan': float('nan')}}, 5000).decode())
print(f.error('bme280: no ack' + 'x' * 300).decode())
print(f.reading({{'flag': False}}))
"""
    out = micropython.run(code).splitlines()
    lines = [line.encode() for line in out]
    assert len(lines) == len(vectors) + 4
    for line, expected in zip(lines, vectors, strict=False):
        got = parse_line(line)
        assert (got.kind, got.node, got.boot, got.seq) == (
            expected["k"],
            expected["n"],
            expected["b"],
            expected["q"],
        )
        assert got.values == {k: float(v) for k, v in expected.get("r", {}).items()}
    hello, reading, error = (parse_line(x) for x in lines[len(vectors) : len(vectors) + 3])
    assert (hello.kind, hello.seq, hello.extra["fw"], hello.extra["rssi"], hello.extra["bat_v"]) == (
        "h",
        0,
        "0.1.0",
        -67,
        3.71,
    )
    assert (reading.kind, reading.seq, reading.values, reading.extra["t"]) == (
        "r",
        1,
        {"water_cm": 131.5, "temp_c": 27.9},
        5000,
    )
    assert error.kind == "e" and error.seq == 2 and error.extra["msg"].startswith("bme280: no ack")
    assert len(error.extra["msg"]) == 120
    assert lines[-1] == b"None"  # nothing numeric to send: no frame, no sequence number used


def test_vector_lines_verify_with_the_firmware_crc(micropython):
    """binascii.crc32 on the device agrees with the contract's CRCs, byte for byte."""
    cases = [c for c in json.loads(VECTORS.read_text())["cases"] if c["valid"]]
    payloads = []
    for case in cases:
        line = base64.b64decode(case["line_b64"]).rstrip(b"\r\n")
        body = line[line.rfind(b"@{") + 1 :]
        payloads.append([body[: body.rfind(b"*")].decode(), body[body.rfind(b"*") + 1 :].decode()])
    code = f"""
import json, binascii
ok = []
for payload, crc in json.loads({json.dumps(json.dumps(payloads))}):
    ok.append('%08x' % (binascii.crc32(payload.encode()) & 0xffffffff) == crc)
print('RESULT', json.dumps(ok))
"""
    result, _ = micropython.result(code)
    assert result == [True] * len(cases)


def test_ring_median_level_and_rain_debounce(micropython):
    code = """
import json, time
import ring, sonar, rain
r = ring.Ring(3)
for i in range(5):
    r.push(i)
drained = []
while len(r):
    drained.append(r.pop())
r.push('a')
class FakePin:
    IRQ_FALLING = 2
    def __init__(self):
        self.handler = None
        self.values = []
    def irq(self, trigger, handler):
        self.handler = handler
    def value(self, v=None):
        self.values.append(v)
pin = FakePin()
g = rain.RainGauge(pin, 0.2794, 80)
t0 = time.ticks_ms()
for dt in (1000, 1005, 1010, 1200, 1230, 1400, 1479, 1560):
    g.edge(time.ticks_add(t0, dt))
first = g.take()
g.edge(time.ticks_add(t0, 1000))  # earlier than the last tip: ticks wrapped long ago, counts
second = g.take()
pin.handler(pin)
pulses = [1746, -1, 99999, 1750, 1740]
trig, echo = FakePin(), FakePin()
def pulse(p, level, timeout):
    assert p is echo and level == 1 and timeout == 30000
    return pulses.pop(0)
s = sonar.Sonar(trig, echo, 300, 25, pulse, lambda us: None)
reading = s.read()
pulses[:] = [-1, -2, -1, 1000, -1]
try:
    s.read()
    no_echo = None
except sonar.SonarError as e:
    no_echo = str(e)
pulses[:] = [900, 901, 902, 903, 904]
try:
    s.read()
    blind = None
except sonar.SonarError as e:
    blind = str(e)
print('RESULT', json.dumps({
    'drained': drained, 'peek': r.peek(), 'dropped': r.dropped,
    'median_odd': sonar.median([5, 1, 4, 2, 3]), 'median_even': sonar.median([4, 1, 3, 2]),
    'level': sonar.level_cm(300, 120.5), 'level_floor': sonar.level_cm(300, 350),
    'cm': sonar.us_to_cm(5820), 'timeout': sonar.us_to_cm(-1),
    'tips_first': first, 'tips_second': second, 'tips_total': g.tips,
    'reading': reading, 'trig': trig.values[:5], 'no_echo': no_echo, 'blind': blind,
}))
"""
    r, _ = micropython.result(code)
    assert r["drained"] == [2, 3, 4] and r["peek"] == "a" and r["dropped"] == 2
    assert r["median_odd"] == 3 and r["median_even"] == 2.5
    assert abs(r["level"] - 179.5) < 1e-6 and r["level_floor"] == 0
    assert abs(r["cm"] - 100.0) < 1e-6 and r["timeout"] is None
    # edges at 1000 (tip), 1005/1010 (bounce), 1200 (tip), 1230 (bounce), 1400 (tip), 1479 (bounce), 1560 (tip)
    assert abs(r["tips_first"] - 4 * 0.2794) < 1e-6
    assert abs(r["tips_second"] - 0.2794) < 1e-6
    assert r["tips_total"] == 6  # the IRQ handler itself counted one more
    # median of the three answered pings 1740, 1746, 1750 us (the 99999 us outlier loses): 1746 us
    assert r["reading"]["distance_cm"] == round(1746 / 58.2, 1)
    assert r["reading"]["water_cm"] == round(300 - 1746 / 58.2, 1)
    assert r["trig"] == [0, 0, 1, 0, 0]
    assert r["no_echo"] == "no echo"
    assert r["blind"].startswith("target in blind zone")


def test_non_ascii_error_text_from_micropython_is_a_frame(micropython):
    """MicroPython's json.dumps writes non-ASCII text as raw UTF-8; the gateway takes it, CRC over those bytes."""
    code = """
import json, binascii, frame, app
f = frame.Framer('dmk-wl-01', 12, 347)
try:
    {}['jarak_sensör']
except KeyError as e:
    msg = app.describe(e)
print('RESULT', json.dumps([binascii.hexlify(f.error('sonar: ' + msg)).decode(),
                            binascii.hexlify(f.hello(4, 81234)).decode()]))
"""
    hex_lines, _ = micropython.result(code)
    error_line, hello_line = (bytes.fromhex(h) + b"\n" for h in hex_lines)
    assert "ö".encode() in error_line  # raw UTF-8 on the wire, not an escape
    error = parse_line(error_line)
    assert (error.kind, error.node, error.boot, error.seq) == ("e", "dmk-wl-01", 12, 347)
    assert error.extra["msg"] == "sonar: KeyError: jarak_sensör"
    assert parse_line(hello_line).seq == 348
