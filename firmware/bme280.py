# Bosch BME280 (temperature, humidity, pressure) on I2C at 0x76 or 0x77, in forced mode.
# Compensation follows the integer formulas of the Bosch datasheet (section 4.2.3).
import struct
import time

from micropython import const

_ADDRS = (0x76, 0x77)
_REG_ID = const(0xD0)
_CHIP_ID = const(0x60)
_REG_CALIB0 = const(0x88)
_REG_CALIB1 = const(0xE1)
_REG_CTRL_HUM = const(0xF2)
_REG_STATUS = const(0xF3)
_REG_CTRL_MEAS = const(0xF4)
_REG_CONFIG = const(0xF5)
_REG_DATA = const(0xF7)
_OSRS_X1 = const(1)
_MODE_FORCED = const(1)


def parse_calibration(c0, c1):
    """Trimming parameters from the 26 bytes at 0x88 and the 7 bytes at 0xE1, as a tuple of 18 ints."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9 = struct.unpack("<HhhHhhhhhhhh", c0[:24])
    h1 = c0[25]
    h2, h3 = struct.unpack("<hB", c1[:3])
    e4, e5, e6 = c1[3], c1[4], c1[5]
    h4 = (e4 << 4) | (e5 & 0x0F)
    if h4 & 0x800:
        h4 -= 0x1000
    h5 = (e6 << 4) | (e5 >> 4)
    if h5 & 0x800:
        h5 -= 0x1000
    h6 = c1[6]
    if h6 > 127:
        h6 -= 256
    return (t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6)


def raw_values(data):
    """Raw ADC values (temperature, pressure, humidity) from the 8 data bytes at 0xF7."""
    adc_p = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
    adc_t = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
    adc_h = (data[6] << 8) | data[7]
    return adc_t, adc_p, adc_h


def compensate(cal, adc_t, adc_p, adc_h):
    """Return (temp_c, pressure_hpa, rh_pct) using the datasheet's integer compensation."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = cal
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = var1 + var2
    temp = (t_fine * 5 + 128) >> 8  # 0.01 degC

    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        pressure = 0
    else:
        p = 1048576 - adc_p
        p = (((p << 31) - var2) * 3125) // var1
        var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
        var2 = (p8 * p) >> 19
        pressure = ((p + var1 + var2) >> 8) + (p7 << 4)  # Q24.8 Pa

    h = t_fine - 76800
    h = ((((adc_h << 14) - (h4 << 20) - (h5 * h)) + 16384) >> 15) * (
        ((((((h * h6) >> 10) * (((h * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14
    )
    h = h - (((((h >> 15) * (h >> 15)) >> 7) * h1) >> 4)
    h = 0 if h < 0 else h
    h = 419430400 if h > 419430400 else h
    hum = h >> 12  # Q22.10 %RH
    return temp / 100, pressure / 25600, hum / 1024


class BME280:
    def __init__(self, i2c, addr=None):
        self.i2c = i2c
        self.addr = addr if addr is not None else self._find()
        self._buf8 = bytearray(8)
        self._b1 = bytearray(1)
        if self.i2c.readfrom_mem(self.addr, _REG_ID, 1)[0] != _CHIP_ID:
            raise OSError(19)  # ENODEV: something else answers there
        self.cal = parse_calibration(
            self.i2c.readfrom_mem(self.addr, _REG_CALIB0, 26),
            self.i2c.readfrom_mem(self.addr, _REG_CALIB1, 7),
        )
        self._write(_REG_CONFIG, 0)

    def _find(self):
        found = self.i2c.scan()
        for addr in _ADDRS:
            if addr in found:
                return addr
        raise OSError(19)

    def _write(self, reg, value):
        self._b1[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def measure(self):
        """One forced-mode conversion; returns (temp_c, pressure_hpa, rh_pct)."""
        self._write(_REG_CTRL_HUM, _OSRS_X1)
        self._write(_REG_CTRL_MEAS, (_OSRS_X1 << 5) | (_OSRS_X1 << 2) | _MODE_FORCED)
        for _ in range(20):
            time.sleep_ms(5)
            if not self.i2c.readfrom_mem(self.addr, _REG_STATUS, 1)[0] & 0x08:
                break
        self.i2c.readfrom_mem_into(self.addr, _REG_DATA, self._buf8)
        return compensate(self.cal, *raw_values(self._buf8))

    def read(self):
        t, p, h = self.measure()
        return {"temp_c": round(t, 2), "pressure_hpa": round(p, 2), "rh_pct": round(h, 1)}
