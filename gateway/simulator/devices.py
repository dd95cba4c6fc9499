"""Sensors at the bus level: what the firmware's drivers talk to on the simulated board.

The BME280 answers I2C register reads (raw ADC values found by inverting the datasheet's compensation),
the PZEM-004T answers Modbus-RTU requests on a UART while the mains are up, the ultrasonic sensor's echo
pulse lasts as long as the sound takes to the water and back, and the rain gauge's reed switch bounces.
"""

from __future__ import annotations

import struct
import time

from gateway.simulator.physics import World

# Wiring of the simulated board: an ESP32 with every sensor attached (the firmware's ESP32 defaults).
WIRING = {
    "sonar_trig": 5,
    "sonar_echo": 18,
    "dht": 4,
    "i2c_scl": 22,
    "i2c_sda": 21,
    "rain": 27,
    "uart_id": 2,
    "uart_tx": 17,
    "uart_rx": 16,
    "bat_adc": 35,
}
BME280_ADDR = 0x76
MOUNT_CM = 300.0  # the ultrasonic sensor hangs this far above the gauge zero
CAL = dict(
    t1=27504, t2=26435, t3=-1000, p1=36477, p2=-10685, p3=3024, p4=2855, p5=140, p6=-7,
    p7=15500, p8=-14600, p9=6000, h1=75, h2=362, h3=0, h4=313, h5=50, h6=30,
)  # fmt: skip


def _calibration_registers() -> dict[int, int]:
    c = CAL
    block0 = struct.pack("<HhhHhhhhhhhh", *(c[k] for k in ("t1", "t2", "t3", "p1", "p2", "p3")), *(
        c[k] for k in ("p4", "p5", "p6", "p7", "p8", "p9")
    )) + bytes([0, c["h1"]])  # fmt: skip
    h4, h5 = c["h4"] & 0xFFF, c["h5"] & 0xFFF
    block1 = struct.pack("<hB", c["h2"], c["h3"]) + bytes([h4 >> 4, (h4 & 0xF) | ((h5 & 0xF) << 4), h5 >> 4])
    block1 += struct.pack("<b", c["h6"])
    regs = {0x88 + i: b for i, b in enumerate(block0)}
    regs.update({0xE1 + i: b for i, b in enumerate(block1)})
    return regs


def _t_fine(adc_t: int) -> float:
    c = CAL
    v1 = (adc_t / 16384.0 - c["t1"] / 1024.0) * c["t2"]
    v2 = ((adc_t / 131072.0 - c["t1"] / 8192.0) ** 2) * c["t3"]
    return v1 + v2


def _pressure(adc_p: int, t_fine: float) -> float:
    c = CAL
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * c["p6"] / 32768.0 + v1 * c["p5"] * 2.0
    v2 = v2 / 4.0 + c["p4"] * 65536.0
    v1 = (c["p3"] * v1 * v1 / 524288.0 + c["p2"] * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * c["p1"]
    p = (1048576.0 - adc_p - v2 / 4096.0) * 6250.0 / v1
    return (p + (c["p9"] * p * p / 2147483648.0 + p * c["p8"] / 32768.0 + c["p7"]) / 16.0) / 100.0


def _humidity(adc_h: int, t_fine: float) -> float:
    c = CAL
    h = t_fine - 76800.0
    h = (adc_h - (c["h4"] * 64.0 + c["h5"] / 16384.0 * h)) * (
        c["h2"] / 65536.0 * (1.0 + c["h6"] / 67108864.0 * h * (1.0 + c["h3"] / 67108864.0 * h))
    )
    return h * (1.0 - c["h1"] * h / 524288.0)


def _solve(f, target: float, lo: int, hi: int, increasing: bool) -> int:
    """The integer x in [lo, hi] with f(x) closest to target, for a monotonic f (bisection)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return lo


def bme280_raw(temp_c: float, pressure_hpa: float, rh_pct: float) -> tuple[int, int, int]:
    adc_t = _solve(lambda x: _t_fine(x) / 5120.0, temp_c, 0, (1 << 20) - 1, True)
    tf = _t_fine(adc_t)
    adc_p = _solve(lambda x: _pressure(x, tf), pressure_hpa, 0, (1 << 20) - 1, False)
    adc_h = _solve(lambda x: _humidity(x, tf), rh_pct, 0, 65535, True)
    return adc_t, adc_p, adc_h


class BME280Device:
    def __init__(self, world: World):
        self.world = world
        self.regs = {0xD0: 0x60, 0xF3: 0, **_calibration_registers()}

    def read(self, reg: int, n: int) -> bytes:
        return bytes(self.regs.get(reg + i, 0) for i in range(n))

    def write(self, reg: int, data: bytes) -> None:
        for i, b in enumerate(data):
            self.regs[reg + i] = b
        if reg == 0xF4 and data and data[0] & 0x03:  # forced (or normal) mode: convert now
            self.world.advance()
            w = self.world
            adc_t, adc_p, adc_h = bme280_raw(w.temp_c(), w.pressure_hpa(), w.rh_pct())
            raw = [adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4]
            raw += [adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4, adc_h >> 8, adc_h & 0xFF]
            for i, b in enumerate(raw):
                self.regs[0xF7 + i] = b


def modbus_crc(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class PZEMDevice:
    """Answers function 0x04 (read input registers) at address 1 or the general address 0xF8."""

    def __init__(self, world: World):
        self.world = world

    def answer(self, request: bytes) -> bytes:
        if len(request) != 8 or modbus_crc(request[:6]) != struct.unpack("<H", request[6:])[0]:
            return b""
        addr, func, start, count = struct.unpack(">BBHH", request[:6])
        self.world.advance()
        w = self.world
        if addr not in (1, 0xF8) or func != 4 or start != 0 or count != 10 or not w.mains_up:
            return b""
        amps, watts, wh = round(w.current_a() * 1000), round(w.power_w() * 10), int(w.energy_wh)
        regs = [round(w.mains_v() * 10), amps & 0xFFFF, amps >> 16, watts & 0xFFFF, watts >> 16]
        regs += [wh & 0xFFFF, wh >> 16, round(w.freq_hz() * 10), round(w.power_factor() * 100), 0]
        body = bytes([1, 4, 20]) + struct.pack(">10H", *regs)
        return body + struct.pack("<H", modbus_crc(body))


class SonarDevice:
    def __init__(self, world: World):
        self.world = world
        self.triggered_at = 0.0
        self._n = 0

    def trigger(self) -> None:
        self.triggered_at = time.monotonic()

    def echo_us(self, timeout_us: int) -> int:
        if time.monotonic() - self.triggered_at > 0.05:
            return -2  # no trigger: the echo line never rises
        self.world.advance()
        self._n += 1
        distance = MOUNT_CM - self.world.level_cm + self.world.rng.uniform(-0.8, 0.8)
        if self._n % 23 == 0:
            distance *= 0.5  # a spurious echo (the median filter removes it)
        us = int(distance * 58.2)
        return -1 if us > timeout_us else us


class RainGaugeDevice:
    """Turns rainfall into tips (0.2794 mm each); each tip makes three edges within a few ms (bounce)."""

    MM_PER_TIP = 0.2794

    def __init__(self, world: World):
        self.world = world
        self._seen_mm = world.rain_total_mm

    def due_tips(self) -> int:
        self.world.advance()
        tips = int((self.world.rain_total_mm - self._seen_mm) / self.MM_PER_TIP)
        self._seen_mm += tips * self.MM_PER_TIP
        return tips
