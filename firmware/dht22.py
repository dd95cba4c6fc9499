# DHT22 (AM2302) temperature and humidity via MicroPython's built-in dht module; at most one read per 2 s.
import time

from micropython import const

_MIN_INTERVAL_MS = const(2000)


class DHT22:
    def __init__(self, pin, sensor=None):
        if sensor is None:
            import dht

            sensor = dht.DHT22(pin)
        self.sensor = sensor
        self._last = None
        self._values = None

    def read(self):
        now = time.ticks_ms()
        if self._values is not None and time.ticks_diff(now, self._last) < _MIN_INTERVAL_MS:
            return self._values
        self.sensor.measure()  # OSError(ETIMEDOUT) when the sensor does not answer
        t = self.sensor.temperature()
        h = self.sensor.humidity()
        if not (-40 <= t <= 80 and 0 <= h <= 100):
            raise ValueError("value out of range")
        self._last = now
        self._values = {"temp_c": round(t, 1), "rh_pct": round(h, 1)}
        return self._values
