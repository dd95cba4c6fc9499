"""A simulated MicroPython board behind a pseudo-terminal.

It runs the board directory's boot.py and main.py on CPython with the simulated modules of
:mod:`gateway.simulator.hal`, and answers the REPL as a real board does: Ctrl-C interrupts, Ctrl-A enters
the raw REPL (classic exec and raw-paste), Ctrl-D soft-resets, Ctrl-B returns to the friendly REPL, and
``machine.reset()`` boots it again (boot noise, boot.py, main.py).
"""

from __future__ import annotations

import builtins
import errno
import os
import select
import struct
import termios
import time
import traceback
import tty
import types
from pathlib import Path
from typing import Any

from gateway.simulator import devices as dev
from gateway.simulator.boardfs import BoardFS, format_exception_line
from gateway.simulator.hal import HardReset, SoftReset, build_modules
from gateway.simulator.physics import Scenario, World

BANNER = 'MicroPython v1.24.0 on 2024-10-25; Generic ESP32 module (simulated) with ESP32\r\nType "help()" for more information.\r\n'
BOOT_NOISE = b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
WINDOW = 128
_MAX_WAIT_S = 0.5


class Shutdown(BaseException):
    """The simulator is being stopped."""


class _Stdout:
    def __init__(self, board: SimulatedBoard):
        self.board = board

    def write(self, s: Any) -> int:
        data = s.encode() if isinstance(s, str) else bytes(s)
        self.board.write(data.replace(b"\n", b"\r\n"))
        return len(s)

    def flush(self) -> None:
        pass


class SimulatedBoard:
    """A simulated sensor board: the project's firmware run on a pseudo-terminal, its sensors played by a
    :class:`~gateway.simulator.physics.World` (the real board's counterpart is :class:`gateway.flash.BoardSession`).
    """

    def __init__(self, root: Path, node_id: str, pty_fds: tuple[int, int], scenario: Scenario | None = None):
        self.root = Path(root)
        self.node_id = node_id
        self.master, self.slave = pty_fds
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.fs = BoardFS(self.root)
        self.world = World(seed=node_id, scenario=scenario)
        self.devices: dict[str, Any] = {
            "bme280": dev.BME280Device(self.world),
            "pzem": dev.PZEMDevice(self.world),
            "sonar": dev.SonarDevice(self.world),
            "rain": dev.RainGaugeDevice(self.world),
        }
        self.stdout = _Stdout(self)
        self.inbuf = bytearray()
        self.stopping = False
        self.interruptible = False
        self.reset_cause = 1
        self.wdt_deadline: float | None = None
        self.wdt_timeout_s = 0.0
        self.timers: set[Any] = set()
        self.irq_handlers: dict[Any, Any] = {}
        self.modules: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.builtins: dict[str, Any] = {}
        self.boots = 0

    # -- serial line -------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write to the line; output nobody reads is dropped (oldest first) instead of blocking the board."""
        while data:
            try:
                n = os.write(self.master, data)
                data = data[n:]
            except BlockingIOError:
                _, writable, _ = select.select([], [self.master], [], 0.05)
                if not writable:
                    termios.tcflush(self.slave, termios.TCIFLUSH)

    def _read_available(self, timeout: float) -> None:
        readable, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if readable:
            try:
                self.inbuf += os.read(self.master, 4096)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as err:  # EIO: nobody holds the slave (cannot happen while we keep it open)
                if err.errno != errno.EIO:
                    raise

    def idle(self, seconds: float, interruptible: bool | None = None, until_input: bool = False) -> None:
        """Pass time: read the line, run timers and IRQs, enforce the watchdog, honour Ctrl-C."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self._events()
            if (self.interruptible if interruptible is None else interruptible) and 3 in self.inbuf:
                del self.inbuf[self.inbuf.index(3)]
                raise KeyboardInterrupt()
            now = time.monotonic()
            if now >= end or (until_input and self.inbuf):
                return
            wait = min(end - now, _MAX_WAIT_S, *(t.next_at - now for t in self.timers if t.next_at))
            self._read_available(wait)

    def _events(self) -> None:
        if self.stopping:
            raise Shutdown()
        now = time.monotonic()
        if self.wdt_deadline is not None and now > self.wdt_deadline:
            self.reset_cause = 3
            raise HardReset()
        for timer in list(self.timers):
            if timer.next_at is not None and now >= timer.next_at:
                timer.next_at = now + timer.period_s if timer.mode == timer.PERIODIC else None
                if timer.next_at is None:
                    self.timers.discard(timer)
                self._call_handler(timer.callback, timer)
        rain = self.irq_handlers.get(dev.WIRING["rain"])
        if rain is not None:
            for _ in range(self.devices["rain"].due_tips()):
                for _bounce in range(3):
                    self._call_handler(rain[0], rain[2])

    def _call_handler(self, handler: Any, arg: Any) -> None:
        if handler is None:
            return
        try:
            handler(arg)
        except Exception as exc:  # as on a board: report and carry on
            self.stdout.write(self.format_traceback(exc))

    def wait_byte(self) -> int:
        """The next input byte (the board idles meanwhile)."""
        while not self.inbuf:
            self.idle(_MAX_WAIT_S, interruptible=False, until_input=True)
        byte = self.inbuf[0]
        del self.inbuf[0]
        return byte

    # -- Python runtime ----------------------------------------------------------------------------------
    def fresh_runtime(self) -> None:
        """What a (soft) reset clears: modules, globals, timers and IRQs (not the watchdog, not the files)."""
        self.timers.clear()
        self.irq_handlers.clear()
        self.modules.clear()
        self.fs.cwd = "/"
        self.sim_modules = build_modules(self)
        self.builtins = dict(vars(builtins))
        self.builtins.update(__import__=self._import, open=self.fs.open, print=self._print, input=None)
        self.globals = {"__name__": "__main__", "__builtins__": self.builtins}

    def _print(self, *args: Any, sep: str = " ", end: str = "\n", file: Any = None, **kwargs: Any) -> None:
        (file or self.stdout).write(sep.join(str(a) for a in args) + end)

    def _import(
        self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if name in self.modules:
            return self.modules[name]
        if name in self.sim_modules:
            module = self.sim_modules[name]
        else:
            path = next((p for p in (f"{name}.py", f"lib/{name}.py") if self.fs.host_path(p).is_file()), None)
            if path is None:
                if name in (
                    "json",
                    "struct",
                    "binascii",
                    "errno",
                    "math",
                    "collections",
                    "re",
                    "io",
                    "array",
                ):
                    return __import__(name)
                if name in ("socket", "usocket", "select", "uselect"):
                    return __import__(name.lstrip("u"))
                raise ImportError(f"no module named '{name}'")
            module = types.ModuleType(name)
            module.__dict__.update(__builtins__=self.builtins, __file__=path)
            self.modules[name] = module
            try:
                self._run_source(self.fs.host_path(path).read_text(), path, module.__dict__)
            except BaseException:
                self.modules.pop(name, None)
                raise
        self.modules[name] = module
        return module

    def _run_source(self, source: str, filename: str, namespace: dict[str, Any]) -> None:
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)

    def format_traceback(self, exc: BaseException) -> str:
        lines = ["Traceback (most recent call last):"]
        for frame in traceback.extract_tb(exc.__traceback__):
            if not frame.filename.startswith(("/", "<frozen")) or frame.filename == "<stdin>":
                lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if isinstance(exc, SyntaxError):
            lines.append(f'  File "{exc.filename}", line {exc.lineno}')
            lines.append("SyntaxError: invalid syntax")
        else:
            lines.append(format_exception_line(exc))
        return "\n".join(lines) + "\n"

    def run_code(self, source: str | bytes, filename: str = "<stdin>") -> None:
        """Run code as the REPL does; a traceback goes to the line, resets propagate."""
        self.interruptible = True
        try:
            if isinstance(source, bytes):
                source = source.decode("utf-8", "replace")
            self._run_source(source, filename, self.globals)
        except (HardReset, SoftReset, Shutdown):
            raise
        except BaseException as exc:
            self.stdout.write(self.format_traceback(exc))
        finally:
            self.interruptible = False

    def run_file(self, name: str) -> None:
        path = self.fs.host_path(name)
        if path.is_file():
            self.run_code(path.read_text(), name)

    # -- boot and REPL -----------------------------------------------------------------------------------
    def run(self) -> None:
        """Boot and serve the REPL until :meth:`stop` (from a signal handler or another thread)."""
        boot = "hard"
        while True:
            try:
                if boot == "hard":
                    self._hard_boot()
                elif boot == "soft":
                    self.write(b"MPY: soft reboot\r\n")
                    self.fresh_runtime()
                    self.run_file("boot.py")
                    self.run_file("main.py")
                boot = self._friendly_repl()
            except HardReset:
                boot = "hard"
                if self.reset_cause != 3:  # not the watchdog
                    self.reset_cause = 2
            except SoftReset:
                boot = "soft"
            except Shutdown:
                return

    def stop(self) -> None:
        self.stopping = True

    def _hard_boot(self) -> None:
        self.boots += 1
        self.inbuf.clear()
        self.wdt_deadline = None
        self.write(BOOT_NOISE)
        self.fresh_runtime()
        self.run_file("boot.py")
        self.run_file("main.py")

    def _friendly_repl(self) -> str:
        self.write(BANNER.encode() + b">>> ")
        line = bytearray()
        while True:
            c = self.wait_byte()
            if c == 0x01:
                self._raw_repl()
                self.write(b"\r\n" + BANNER.encode() + b">>> ")
                line.clear()
            elif c == 0x02:
                self.write(b"\r\n" + BANNER.encode() + b">>> ")
                line.clear()
            elif c == 0x03:
                self.write(b"\r\n>>> ")
                line.clear()
            elif c == 0x04 and not line:
                self.write(b"\r\n")
                raise SoftReset()
            elif c in (0x0D, 0x0A):
                self.write(b"\r\n")
                if line.strip():
                    self._friendly_line(bytes(line).decode("utf-8", "replace"))
                self.write(b">>> ")
                line.clear()
            elif c in (0x08, 0x7F):
                if line:
                    del line[-1]
                    self.write(b"\x08 \x08")
            elif c >= 0x20:
                line.append(c)
                self.write(bytes([c]))

    def _friendly_line(self, text: str) -> None:
        try:
            code = compile(text, "<stdin>", "eval", dont_inherit=True)
        except SyntaxError:
            self.run_code(text)
            return
        self.interruptible = True
        try:
            value = eval(code, self.globals)
            if value is not None:
                self.stdout.write(repr(value) + "\n")
        except (HardReset, SoftReset, Shutdown):
            raise
        except BaseException as exc:
            self.stdout.write(self.format_traceback(exc))
        finally:
            self.interruptible = False

    def _raw_repl(self) -> None:
        """Serve the raw REPL; returns on Ctrl-B. A soft reset here stays in the raw REPL."""
        self.write(b"\r\n" + RAW_BANNER + b">")
        code = bytearray()
        while True:
            c = self.wait_byte()
            if c == 0x01 and code == b"\x05A":
                self._raw_paste()
                code.clear()
            elif c == 0x01:
                self.write(b"\r\n" + RAW_BANNER + b">")
                code.clear()
            elif c == 0x02:
                return
            elif c == 0x03:
                code.clear()
            elif c == 0x04 and not code:
                self.write(b"OK\r\nMPY: soft reboot\r\n")
                self.fresh_runtime()
                self.run_file("boot.py")
                self.write(RAW_BANNER + b">")
            elif c == 0x04:
                self.write(b"OK")
                self._exec_and_report(bytes(code))
                code.clear()
            else:
                code.append(c)

    def _raw_paste(self) -> None:
        self.write(b"R\x01" + struct.pack("<H", WINDOW) + b"\x01")
        code = bytearray()
        consumed = 0
        while True:
            c = self.wait_byte()
            if c == 0x04:
                break
            code.append(c)
            consumed += 1
            if consumed == WINDOW:
                self.write(b"\x01")
                consumed = 0
        self.write(b"\x04")
        self._exec_and_report(bytes(code))

    def _exec_and_report(self, code: bytes) -> None:
        errors = bytearray()
        self.run_code_capturing_errors(code, errors)
        self.write(b"\x04" + bytes(errors).replace(b"\n", b"\r\n") + b"\x04>")

    def run_code_capturing_errors(self, code: bytes, errors: bytearray) -> None:
        self.interruptible = True
        try:
            self._run_source(code.decode("utf-8", "replace"), "<stdin>", self.globals)
        except (HardReset, SoftReset, Shutdown):
            raise
        except BaseException as exc:
            errors += self.format_traceback(exc).encode()
        finally:
            self.interruptible = False
