# Tipping-bucket rain gauge on a pull-up input: each tip closes a reed switch (a falling edge).
# The IRQ handler only counts (no allocation); contact bounce is rejected with ticks_diff.
import time

from micropython import const

_DEBOUNCE_MS = const(80)


class RainGauge:
    def __init__(self, pin, mm_per_tip=0.2794, debounce_ms=_DEBOUNCE_MS, attach=True):
        self.mm_per_tip = mm_per_tip
        self.debounce_ms = debounce_ms
        self._count = 0  # written only by the handler
        self._taken = 0  # written only by take()
        self._last = time.ticks_ms() - debounce_ms - 1
        self._armed = False
        if attach:
            pin.irq(trigger=pin.IRQ_FALLING, handler=self._irq)

    def _irq(self, pin):
        self.edge(time.ticks_ms())

    def edge(self, now):
        """Count one falling edge at ``now`` (ms ticks) unless it is bounce of the previous tip."""
        if self._armed:
            d = time.ticks_diff(now, self._last)
            if 0 <= d < self.debounce_ms:  # a negative d means the previous tip is ages ago
                return
        self._armed = True
        self._last = now
        self._count += 1

    @property
    def tips(self):
        return self._count

    def take(self):
        """Rain in mm since the previous call."""
        count = self._count
        n = count - self._taken
        self._taken = count
        return n * self.mm_per_tip

    def read(self):
        return {"rain_mm": round(self.take(), 4)}
