# JSN-SR04T / HC-SR04 ultrasonic water level: 10 us trigger, echo pulse length, cm = us / 58.2,
# median of 5 pings; level = mount height - distance. Targets closer than the blind zone are not measurable.
import time

from micropython import const

_US_PER_CM = 58.2
_TIMEOUT_US = const(30000)
_PINGS = const(5)


def median(values):
    """Median of a non-empty sequence (the mean of the two middle values for an even count)."""
    s = sorted(values)
    n = len(s)
    mid = n // 2
    if n % 2:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2


def us_to_cm(us):
    """Echo pulse length to distance in cm; None for a timeout (negative result of time_pulse_us)."""
    if us < 0:
        return None
    return us / _US_PER_CM


def level_cm(mount_cm, distance_cm):
    """Water level above the reference (river bed or gauge zero), never negative."""
    level = mount_cm - distance_cm
    return level if level > 0 else 0.0


class SonarError(Exception):
    pass


class Sonar:
    def __init__(self, trig, echo, mount_cm, blind_cm=25, pulse=None, sleep_us=None):
        self.trig = trig
        self.echo = echo
        self.mount_cm = mount_cm
        self.blind_cm = blind_cm
        if pulse is None:
            import machine

            pulse = machine.time_pulse_us
        self._pulse = pulse
        self._sleep_us = sleep_us or time.sleep_us
        self._samples = [0.0] * _PINGS
        trig.value(0)

    def ping(self):
        """One distance in cm, or None when no echo came back."""
        self.trig.value(0)
        self._sleep_us(2)
        self.trig.value(1)
        self._sleep_us(10)
        self.trig.value(0)
        return us_to_cm(self._pulse(self.echo, 1, _TIMEOUT_US))

    def distance(self):
        """Median distance of 5 pings (at least 3 must answer). Raises SonarError."""
        n = 0
        for _ in range(_PINGS):
            d = self.ping()
            if d is not None:
                self._samples[n] = d
                n += 1
            time.sleep_ms(60)  # let the previous echo die out
        if n < 3:
            raise SonarError("no echo")
        return median(self._samples[:n])

    def read(self):
        """Measurements of one cycle; raises SonarError when the target is in the blind zone."""
        d = self.distance()
        if d < self.blind_cm:
            raise SonarError("target in blind zone (%d cm)" % int(d))
        return {"water_cm": round(level_cm(self.mount_cm, d), 1), "distance_cm": round(d, 1)}
