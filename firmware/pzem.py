# Peacefair PZEM-004T v3 energy monitor over UART (9600 8N1, Modbus-RTU). Function 0x04 reads the
# 10 input registers from 0: voltage, current, power, energy, frequency, power factor, alarm.
# The meter is powered from the mains side: no answer (or 0 V) means the mains are lost.
import struct
import time

from micropython import const

_FUNC_READ_INPUT = const(0x04)
_NREGS = const(10)
_RESP_LEN = const(25)  # addr, func, byte count, 20 data bytes, 2 CRC bytes
_TIMEOUT_MS = const(300)


def crc16(buf, n=None):
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF) of the first n bytes of buf."""
    crc = 0xFFFF
    for i in range(len(buf) if n is None else n):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def request(addr=1):
    """The read request: addr, 0x04, start 0, count 10, CRC (little-endian)."""
    buf = bytearray(8)
    struct.pack_into(">BBHH", buf, 0, addr, _FUNC_READ_INPUT, 0, _NREGS)
    struct.pack_into("<H", buf, 6, crc16(buf, 6))
    return buf


def decode(resp, addr=1):
    """Decode a 25-byte answer into measurements; raises ValueError for a bad frame."""
    if len(resp) < _RESP_LEN:
        raise ValueError("short answer")
    if resp[0] != addr or resp[1] != _FUNC_READ_INPUT or resp[2] != 2 * _NREGS:
        raise ValueError("unexpected answer")
    if crc16(resp, _RESP_LEN - 2) != resp[_RESP_LEN - 2] | (resp[_RESP_LEN - 1] << 8):
        raise ValueError("bad CRC")
    r = struct.unpack(">10H", resp[3:23])
    volts = r[0] / 10
    return {
        "mains_v": volts,
        "current_a": ((r[2] << 16) | r[1]) / 1000,
        "power_w": ((r[4] << 16) | r[3]) / 10,
        "energy_wh": (r[6] << 16) | r[5],
        "freq_hz": r[7] / 10,
        "power_factor": r[8] / 100,
        "mains_ok": 1 if volts > 0 else 0,
    }


LOST = {"mains_v": 0, "mains_ok": 0}


class PZEM:
    def __init__(self, uart, addr=1, timeout_ms=_TIMEOUT_MS):
        self.uart = uart
        self.addr = addr
        self.timeout_ms = timeout_ms
        self._req = request(addr)
        self._buf = bytearray(_RESP_LEN)

    def _drain(self):
        while self.uart.any():
            self.uart.read()

    def exchange(self):
        """Send the request; return the answer bytes (possibly short) received within the timeout."""
        self._drain()
        self.uart.write(self._req)
        n = 0
        start = time.ticks_ms()
        while n < _RESP_LEN and time.ticks_diff(time.ticks_ms(), start) < self.timeout_ms:
            chunk = self.uart.read(_RESP_LEN - n) if self.uart.any() else None
            if chunk:
                self._buf[n : n + len(chunk)] = chunk
                n += len(chunk)
            else:
                time.sleep_ms(10)
        return self._buf[:n]

    def read(self):
        """Measurements; LOST when the meter does not answer. Raises ValueError for a garbled answer."""
        resp = self.exchange()
        if not resp:
            return dict(LOST)
        return decode(resp, self.addr)
