"""BME280 and PZEM-004T drivers on a real MicroPython, talking to fake I2C and UART buses.

The expected values come from independent CPython code: the datasheet's floating-point BME280 formulas and a
table-free Modbus CRC.
"""

from __future__ import annotations

import struct

# Trimming parameters of a real BME280 (the datasheet's example values for T and P).
CAL = dict(
    t1=27504, t2=26435, t3=-1000, p1=36477, p2=-10685, p3=3024, p4=2855, p5=140, p6=-7,
    p7=15500, p8=-14600, p9=6000, h1=75, h2=362, h3=0, h4=313, h5=50, h6=30,
)  # fmt: skip


def calibration_bytes(c: dict[str, int]) -> tuple[bytes, bytes]:
    block0 = struct.pack(
        "<HhhHhhhhhhhh",
        *(c[k] for k in ["t1", "t2", "t3", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]),
    )
    block0 += bytes([0, c["h1"]])
    h4, h5 = c["h4"] & 0xFFF, c["h5"] & 0xFFF
    block1 = struct.pack("<hB", c["h2"], c["h3"]) + bytes([h4 >> 4, (h4 & 0xF) | ((h5 & 0xF) << 4), h5 >> 4])
    block1 += struct.pack("<b", c["h6"])
    return block0, block1


def float_compensation(c: dict[str, int], adc_t: int, adc_p: int, adc_h: int) -> tuple[float, float, float]:
    """The datasheet's double-precision formulas (appendix 8.1)."""
    v1 = (adc_t / 16384.0 - c["t1"] / 1024.0) * c["t2"]
    v2 = ((adc_t / 131072.0 - c["t1"] / 8192.0) ** 2) * c["t3"]
    t_fine = v1 + v2
    temp = t_fine / 5120.0
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * c["p6"] / 32768.0 + v1 * c["p5"] * 2.0
    v2 = v2 / 4.0 + c["p4"] * 65536.0
    v1 = (c["p3"] * v1 * v1 / 524288.0 + c["p2"] * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * c["p1"]
    p = 1048576.0 - adc_p
    p = (p - v2 / 4096.0) * 6250.0 / v1
    v1 = c["p9"] * p * p / 2147483648.0
    v2 = p * c["p8"] / 32768.0
    pressure = (p + (v1 + v2 + c["p7"]) / 16.0) / 100.0
    h = t_fine - 76800.0
    h = (adc_h - (c["h4"] * 64.0 + c["h5"] / 16384.0 * h)) * (
        c["h2"] / 65536.0 * (1.0 + c["h6"] / 67108864.0 * h * (1.0 + c["h3"] / 67108864.0 * h))
    )
    h = h * (1.0 - c["h1"] * h / 524288.0)
    return temp, pressure, min(max(h, 0.0), 100.0)


def data_bytes(adc_t: int, adc_p: int, adc_h: int) -> bytes:
    return bytes(
        [
            adc_p >> 12,
            (adc_p >> 4) & 0xFF,
            (adc_p & 0xF) << 4,
            adc_t >> 12,
            (adc_t >> 4) & 0xFF,
            (adc_t & 0xF) << 4,
        ]
    ) + struct.pack(">H", adc_h)


def modbus_crc(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def pzem_answer(volts: float, amps: float, watts: float, wh: int, hz: float, pf: float) -> bytes:
    a, w = round(amps * 1000), round(watts * 10)
    regs = [
        round(volts * 10),
        a & 0xFFFF,
        a >> 16,
        w & 0xFFFF,
        w >> 16,
        wh & 0xFFFF,
        wh >> 16,
        round(hz * 10),
    ]
    regs += [round(pf * 100), 0]
    body = bytes([1, 4, 20]) + struct.pack(">10H", *regs)
    return body + struct.pack("<H", modbus_crc(body))


FAKE_BUSES = """
class FakeI2C:
    def __init__(self, regs, addr):
        self.regs = regs
        self.addr = addr
        self.writes = []
    def scan(self):
        return [self.addr]
    def _check(self, addr):
        if addr != self.addr:
            raise OSError(19)
    def readfrom_mem(self, addr, reg, n):
        self._check(addr)
        return bytes(self.regs.get(reg + i, 0) for i in range(n))
    def readfrom_mem_into(self, addr, reg, buf):
        buf[:] = self.readfrom_mem(addr, reg, len(buf))
    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        self.writes.append((reg, buf[0]))

class FakeUART:
    def __init__(self, answer):
        self.answer = answer
        self.rx = b''
        self.sent = []
    def any(self):
        return len(self.rx)
    def read(self, n=None):
        n = len(self.rx) if n is None else min(n, 3)  # arrives in small pieces, as on a real UART
        out, self.rx = self.rx[:n], self.rx[n:]
        return out or None
    def write(self, buf):
        self.sent.append(bytes(buf))
        self.rx += self.answer
"""


def test_bme280_on_a_fake_i2c_bus_matches_the_datasheet(micropython):
    block0, block1 = calibration_bytes(CAL)
    samples = [(519888, 415148, 30000), (530000, 330000, 25000), (500000, 450000, 35000)]
    code = (
        FAKE_BUSES
        + f"""
import json, bme280
regs = {{0xD0: 0x60, 0xF3: 0}}
for i, b in enumerate({list(block0)}):
    regs[0x88 + i] = b
for i, b in enumerate({list(block1)}):
    regs[0xE1 + i] = b
i2c = FakeI2C(regs, 0x77)
sensor = bme280.BME280(i2c)
out = {{'addr': sensor.addr, 'cal': list(sensor.cal), 'values': []}}
for sample in {[list(data_bytes(*s)) for s in samples]}:
    for i, b in enumerate(sample):
        regs[0xF7 + i] = b
    out['values'].append(list(sensor.measure()))
out['read'] = sensor.read()
out['writes'] = i2c.writes[:3]
try:
    bme280.BME280(FakeI2C({{0xD0: 0x58}}, 0x76))
    out['wrong_chip'] = None
except OSError as e:
    out['wrong_chip'] = e.args[0]
print('RESULT', json.dumps(out))
"""
    )
    r, _ = micropython.result(code)
    assert r["addr"] == 0x77
    assert r["cal"] == list(CAL.values())
    for (t, p, h), sample in zip(r["values"], samples, strict=True):
        et, ep, eh = float_compensation(CAL, *sample)
        assert abs(t - et) < 0.01
        assert abs(p - ep) < 0.05
        assert abs(h - eh) < 0.2
    assert abs(r["values"][0][0] - 25.08) < 0.01  # the datasheet's worked example: 25.08 degC
    assert set(r["read"]) == {"temp_c", "pressure_hpa", "rh_pct"}
    assert r["writes"] == [[0xF5, 0], [0xF2, 1], [0xF4, 0b00100101]]  # config, humidity x1, forced mode
    assert r["wrong_chip"] == 19


def test_pzem_modbus_request_crc_and_decoding(micropython):
    answer = pzem_answer(229.8, 1.234, 283.9, 123456, 50.0, 0.95)
    broken = answer[:-1] + bytes([answer[-1] ^ 0xFF])
    code = (
        FAKE_BUSES
        + f"""
import json, pzem
out = {{'request': list(pzem.request(1)), 'crc_check': pzem.crc16(b'123456789')}}
uart = FakeUART(bytes({list(answer)}))
meter = pzem.PZEM(uart)
out['read'] = meter.read()
out['sent'] = [list(s) for s in uart.sent]
out['lost'] = pzem.PZEM(FakeUART(b''), timeout_ms=50).read()
try:
    pzem.decode(bytes({list(broken)}))
    out['broken'] = None
except ValueError as e:
    out['broken'] = str(e)
zero = pzem.decode(bytes({list(pzem_answer(0, 0, 0, 7, 0, 0))}))
out['zero_ok'] = zero['mains_ok']
print('RESULT', json.dumps(out))
"""
    )
    r, _ = micropython.result(code)
    assert bytes(r["request"]) == bytes.fromhex("01040000000A700D")  # the documented request frame
    assert r["crc_check"] == 0x4B37  # CRC-16/MODBUS check value
    assert r["sent"] == [r["request"]]
    read = r["read"]
    assert read["mains_v"] == 229.8 and read["current_a"] == 1.234 and read["power_w"] == 283.9
    assert read["energy_wh"] == 123456 and read["freq_hz"] == 50.0 and read["power_factor"] == 0.95
    assert read["mains_ok"] == 1
    assert r["lost"] == {"mains_v": 0, "mains_ok": 0}
    assert r["broken"] == "bad CRC"
    assert r["zero_ok"] == 0
