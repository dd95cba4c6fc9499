# The hardware watchdog cannot be stopped once started. While the app loop runs it feeds the dog after
# each good cycle; while a technician (or mpremote) has the REPL, a timer feeds it so the board stays up.
import sys

from micropython import const

TIMEOUT_MS = const(8000)  # RP2040 allows at most 8388 ms
_KEEP_MS = const(2000)

_wdt = None
_timer = None


def start(machine):
    global _wdt
    if _wdt is None:
        _wdt = machine.WDT(timeout=TIMEOUT_MS)
    return _wdt


def feed():
    if _wdt is not None:
        _wdt.feed()


def keep_fed(machine):
    """Feed the watchdog from a periodic timer (REPL sessions, flashing)."""
    global _timer
    start(machine)
    if _timer is None:
        _timer = machine.Timer(0 if sys.platform == "esp32" else -1)
    _timer.init(period=_KEEP_MS, mode=machine.Timer.PERIODIC, callback=lambda t: feed())


def stop_keeping():
    """The app loop takes over feeding: a hang in it must now reset the board."""
    global _timer
    if _timer is not None:
        _timer.deinit()
        _timer = None
