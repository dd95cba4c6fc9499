"""The simulated hardware modules a board's code imports: machine, time, sys, gc, network, dht, ...

Each module is built for one board (:class:`gateway.simulator.board.SimulatedBoard`): sleeping hands control to the
board (which reads the serial line, runs timers and IRQs, and raises KeyboardInterrupt on Ctrl-C), and the
buses reach the simulated sensors of :mod:`gateway.simulator.devices`.
"""

from __future__ import annotations

import hashlib
import sys as host_sys
import time as host_time
import types
import zlib
from typing import TYPE_CHECKING, Any

from gateway.simulator.boardfs import format_exception_line
from gateway.simulator.devices import BME280_ADDR, WIRING

if TYPE_CHECKING:
    from gateway.simulator.board import SimulatedBoard

TICKS_PERIOD = 1 << 30


class HardReset(BaseException):
    """machine.reset(), the watchdog, or a deep sleep: the board boots again."""


class SoftReset(BaseException):
    """machine.soft_reset()."""


def _pin_id(pin: Any) -> Any:
    return pin.id if isinstance(pin, Pin) else pin


class Pin:
    IN, OUT, OPEN_DRAIN = 1, 3, 7
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_FALLING, IRQ_RISING = 2, 1
    board: SimulatedBoard  # set on the per-board subclass

    def __init__(self, id: Any, mode: int = -1, pull: int = -1, value: Any = None, **kwargs: Any):
        self.id = id
        self._value = 0 if value is None else int(bool(value))
        if pull == self.PULL_UP:
            self._value = 1

    def value(self, v: Any = None) -> int | None:
        if v is None:
            return self._value
        new = int(bool(v))
        if self.id == WIRING["sonar_trig"] and self._value == 1 and new == 0:
            self.board.devices["sonar"].trigger()
        self._value = new
        return None

    __call__ = value

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)

    def irq(self, handler: Any = None, trigger: int = IRQ_FALLING | IRQ_RISING, **kwargs: Any) -> None:
        self.board.irq_handlers[self.id] = (handler, trigger, self)

    def __repr__(self) -> str:
        return f"Pin({self.id})"


class I2C:
    board: SimulatedBoard

    def __init__(self, id: int = 0, *, scl: Any = None, sda: Any = None, freq: int = 400000, **kwargs: Any):
        wired = _pin_id(scl) == WIRING["i2c_scl"] and _pin_id(sda) == WIRING["i2c_sda"]
        self.devices = {BME280_ADDR: self.board.devices["bme280"]} if wired else {}

    def scan(self) -> list[int]:
        return sorted(self.devices)

    def _dev(self, addr: int) -> Any:
        dev = self.devices.get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV: no ACK
        return dev

    def readfrom_mem(self, addr: int, reg: int, n: int, **kwargs: Any) -> bytes:
        return self._dev(addr).read(reg, n)

    def readfrom_mem_into(self, addr: int, reg: int, buf: Any, **kwargs: Any) -> None:
        buf[:] = self._dev(addr).read(reg, len(buf))

    def writeto_mem(self, addr: int, reg: int, buf: Any, **kwargs: Any) -> None:
        self._dev(addr).write(reg, bytes(buf))


class UART:
    board: SimulatedBoard

    def __init__(self, id: int, baudrate: int = 115200, *, tx: Any = None, rx: Any = None, **kwargs: Any):
        wired = id == WIRING["uart_id"] and _pin_id(tx) in (None, WIRING["uart_tx"]) and baudrate == 9600
        self.device = self.board.devices["pzem"] if wired else None
        self.rx = bytearray()

    def init(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write(self, buf: Any) -> int:
        if self.device is not None:
            self.rx += self.device.answer(bytes(buf))
        return len(buf)

    def any(self) -> int:
        return len(self.rx)

    def read(self, n: int | None = None) -> bytes | None:
        n = len(self.rx) if n is None else n
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out or None


class ADC:
    board: SimulatedBoard

    def __init__(self, pin: Any, **kwargs: Any):
        self.wired = _pin_id(pin) == WIRING["bat_adc"]

    def read_u16(self) -> int:
        return int(4.05 / 2 / 3.3 * 65535) if self.wired else 0


class Timer:
    ONE_SHOT, PERIODIC = 0, 1
    board: SimulatedBoard

    def __init__(self, id: int = -1, **kwargs: Any):
        self.next_at: float | None = None
        if kwargs:
            self.init(**kwargs)

    def init(self, *, period: int = 1000, mode: int = PERIODIC, callback: Any = None, **kwargs: Any) -> None:
        self.period_s = period / 1000
        self.mode = mode
        self.callback = callback
        self.next_at = host_time.monotonic() + self.period_s
        self.board.timers.add(self)

    def deinit(self) -> None:
        self.next_at = None
        self.board.timers.discard(self)


class WDT:
    board: SimulatedBoard

    def __init__(self, id: int = 0, timeout: int = 5000):
        self.board.wdt_timeout_s = timeout / 1000
        self.feed()

    def feed(self) -> None:
        self.board.wdt_deadline = host_time.monotonic() + self.board.wdt_timeout_s


def ticks_ms() -> int:
    return int(host_time.monotonic() * 1000) & (TICKS_PERIOD - 1)


def ticks_us() -> int:
    return int(host_time.monotonic() * 1_000_000) & (TICKS_PERIOD - 1)


def ticks_add(ticks: int, delta: int) -> int:
    return (ticks + delta) & (TICKS_PERIOD - 1)


def ticks_diff(a: int, b: int) -> int:
    half = TICKS_PERIOD // 2
    return ((a - b + half) & (TICKS_PERIOD - 1)) - half


def _bind(cls: type, board: SimulatedBoard) -> type:
    return type(cls.__name__, (cls,), {"board": board})


def build_modules(board: SimulatedBoard) -> dict[str, types.ModuleType]:
    """The simulated modules for ``board``; everything else the board imports is its own .py files."""
    machine = types.ModuleType("machine")
    for cls in (Pin, I2C, UART, ADC, Timer, WDT):
        setattr(machine, cls.__name__, _bind(cls, board))
    machine.SoftI2C = machine.I2C  # type: ignore[attr-defined]

    def time_pulse_us(pin: Any, level: int, timeout_us: int = 1_000_000) -> int:
        if _pin_id(pin) != WIRING["sonar_echo"] or level != 1:
            return -2
        return board.devices["sonar"].echo_us(timeout_us)

    def reset() -> None:
        raise HardReset()

    def soft_reset() -> None:
        raise SoftReset()

    def deepsleep(ms: int = 0) -> None:
        board.idle(ms / 1000, interruptible=False)
        raise HardReset()

    node_crc = zlib.crc32(board.node_id.encode())
    ns = {
        "time_pulse_us": time_pulse_us, "reset": reset, "soft_reset": soft_reset, "deepsleep": deepsleep,
        "lightsleep": lambda ms=0: board.idle(ms / 1000), "idle": lambda: board.idle(0),
        "unique_id": lambda: b"\x24\x0a\xc4" + node_crc.to_bytes(4, "big")[:3],
        "freq": lambda hz=None: 240_000_000, "reset_cause": lambda: board.reset_cause,
        "disable_irq": lambda: 0, "enable_irq": lambda state=0: None,
        "PWRON_RESET": 1, "HARD_RESET": 2, "WDT_RESET": 3, "DEEPSLEEP_RESET": 4, "SOFT_RESET": 5,
    }  # fmt: skip
    for name, value in ns.items():
        setattr(machine, name, value)

    utime = types.ModuleType("time")
    for name, value in {
        "ticks_ms": ticks_ms, "ticks_us": ticks_us, "ticks_add": ticks_add, "ticks_diff": ticks_diff,
        "ticks_cpu": ticks_us, "time": lambda: int(host_time.time()), "time_ns": host_time.time_ns,
        "sleep": lambda s: board.idle(s), "sleep_ms": lambda ms: board.idle(ms / 1000),
        "sleep_us": lambda us: board.idle(us / 1_000_000) if us > 1000 else None,
        "localtime": lambda s=None: host_time.localtime(s)[:8], "gmtime": lambda s=None: host_time.gmtime(s)[:8],
        "mktime": lambda t: int(host_time.mktime(tuple(t)[:8] + (-1,))),
    }.items():  # fmt: skip
        setattr(utime, name, value)

    usys = types.ModuleType("sys")

    def print_exception(exc: BaseException, file: Any = None) -> None:
        (file or board.stdout).write(board.format_traceback(exc))

    for name, value in {
        "platform": "esp32", "implementation": types.SimpleNamespace(name="micropython", version=(1, 24, 0)),
        "version": "3.4.0; MicroPython v1.24.0 (simulated)", "byteorder": "little", "maxsize": 2**31 - 1,
        "stdout": board.stdout, "stderr": board.stdout, "stdin": None, "modules": board.modules,
        "path": ["", "/lib"], "print_exception": print_exception, "exit": host_sys.exit, "argv": [],
    }.items():  # fmt: skip
        setattr(usys, name, value)

    gc = types.ModuleType("gc")
    gc.collect = lambda: None  # type: ignore[attr-defined]
    gc.mem_free = lambda: 112_000 - 800 * len(board.modules)  # type: ignore[attr-defined]
    gc.mem_alloc = lambda: 800 * len(board.modules)  # type: ignore[attr-defined]
    gc.enable = gc.disable = lambda: None  # type: ignore[attr-defined]

    micropython = types.ModuleType("micropython")
    micropython.const = lambda x: x  # type: ignore[attr-defined]
    micropython.alloc_emergency_exception_buf = lambda n: None  # type: ignore[attr-defined]
    micropython.schedule = lambda f, arg: f(arg)  # type: ignore[attr-defined]

    network = types.ModuleType("network")
    network.STA_IF, network.AP_IF = 0, 1  # type: ignore[attr-defined]
    network.WLAN = _wlan_class()  # type: ignore[attr-defined]

    dht = types.ModuleType("dht")
    dht.DHT22 = dht.DHT11 = _dht_class(board)  # type: ignore[attr-defined]

    uhashlib = types.ModuleType("hashlib")
    for algo in ("sha256", "sha1", "md5"):
        setattr(uhashlib, algo, getattr(hashlib, algo))

    modules = {"machine": machine, "time": utime, "sys": usys, "gc": gc, "micropython": micropython}
    modules.update({"network": network, "dht": dht, "hashlib": uhashlib, "os": board.fs.module()})
    for name in ("time", "sys", "os", "hashlib"):
        modules["u" + name] = modules[name]
    return modules


def _wlan_class() -> type:
    class WLAN:
        def __init__(self, interface: int = 0):
            self._active = False
            self._connected = False

        def active(self, on: Any = None) -> bool | None:
            if on is None:
                return self._active
            self._active = bool(on)
            return None

        def connect(self, ssid: str = "", key: str = "", **kwargs: Any) -> None:
            self._connected = self._active and bool(ssid)

        def disconnect(self) -> None:
            self._connected = False

        def isconnected(self) -> bool:
            return self._connected

        def status(self, param: str | None = None) -> int:
            if param == "rssi":
                return -61 if self._connected else 0
            return 1010 if self._connected else 1000

        def ifconfig(self) -> tuple[str, str, str, str]:
            return ("192.168.4.23", "255.255.255.0", "192.168.4.1", "192.168.4.1")

    return WLAN


def _dht_class(board: SimulatedBoard) -> type:
    class DHT22:
        def __init__(self, pin: Any):
            self.wired = _pin_id(pin) == WIRING["dht"]
            self._t = self._h = 0.0

        def measure(self) -> None:
            if not self.wired:
                raise OSError(110)  # ETIMEDOUT: nobody pulls the line low
            board.world.advance()
            self._t, self._h = round(board.world.temp_c() + 0.4, 1), round(board.world.rh_pct(), 1)

        def temperature(self) -> float:
            return self._t

        def humidity(self) -> float:
            return self._h

    return DHT22


__all__ = ["HardReset", "SoftReset", "build_modules", "format_exception_line"]
