"""``anjungan node monitor --port PORT``: a node's frames and console lines, live, until Ctrl-C.

When the ingest reads the port, the monitor never takes it: it shows what the ingest reads (the port's tap,
:mod:`gateway.porttap`), which the ingest stores as always. Handing the port over and back left a moment when
nobody read it, and the next open flushed what the kernel held meanwhile: a reading lost at each hand-over.
When no process reads the port, the monitor reads it itself and stores what it shows, exactly as the ingest
would (frames to the writer, anything else to the console log); an ingest that starts meanwhile waits for it.
Without a store it only shows, and creates nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from gateway import config as config_mod
from gateway.clicontext import pass_config
from gateway.errors import AnjunganError, FrameError
from gateway.frame import Frame, parse_line
from gateway.ingest.sink import FrameSink, LineSink, is_blank
from gateway.stopsignals import stop_on_signals


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def describe_frame(frame: Frame) -> str:
    """One line for a frame: ``dmk-wl-01 #12/345 water_cm=131.5 temp_c=27.9``."""
    head = f"{frame.node} #{frame.boot}/{frame.seq}"
    if frame.kind == "r":
        body = " ".join(f"{k}={_number(v)}" for k, v in frame.values.items())
    elif frame.kind == "h":
        body = "hello " + " ".join(f"{k}={v}" for k, v in frame.extra.items())
    else:
        body = f"ERROR {frame.extra.get('msg')}"
    return f"{head} {body}"


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", "backslashreplace")


def describe_line(line: bytes) -> str | None:
    """A frame decoded, or a console line marked with ``|`` (and why it is not a frame, if it looks like one)."""
    if is_blank(line):
        return None
    try:
        return describe_frame(parse_line(line))
    except FrameError as err:
        note = f"   [not a frame: {err}]" if b"@{" in line else ""
        return f"| {_text(line)}{note}"


class PrintSink:
    """Prints each line with the time it arrived."""

    def __init__(self, raw: bool, echo: Callable[[str], None]):
        self.raw = raw
        self.echo = echo

    def handle(self, lines: Sequence[bytes]) -> None:
        stamp = time.strftime("%H:%M:%S")
        for line in lines:
            text = _text(line) if self.raw else describe_line(line)
            if text is not None:
                self.echo(f"{stamp} {text}")


class TeeSink:
    """Hands each batch of lines to every sink in turn (the printer, and the store's sink)."""

    def __init__(self, *sinks: LineSink):
        self.sinks = sinks

    def handle(self, lines: Sequence[bytes]) -> None:
        for sink in self.sinks:
            sink.handle(lines)


@click.command("monitor")
@click.option("--port", required=True, help="Serial device (or pyserial URL) of the node.")
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--raw", is_flag=True, help="Print lines exactly as received, without decoding frames.")
@pass_config
def monitor_command(cfg: config_mod.Config, port: str, baud: int, raw: bool) -> None:
    """Show a node's frames (decoded, one a line) and console lines (marked |) live, until Ctrl-C.

    When the ingest reads the port, shows what the ingest reads (and stores); otherwise reads the port itself
    and stores what it shows, when the gateway's store exists.
    """
    from gateway import portlock

    stop = threading.Event()
    printer = PrintSink(raw, lambda text: click.echo(text))
    data_dir = Path(cfg.data_dir)
    with stop_on_signals(stop.set):  # until the store is closed: a second Ctrl-C never cuts its last commit
        if cfg.store_path.exists() and portlock.is_claimed(data_dir, port):
            _follow_the_ingest(data_dir, port, printer, stop)
        else:
            _read_the_port(cfg, port, baud, printer, stop)


def _follow_the_ingest(data_dir: Path, port: str, printer: PrintSink, stop: threading.Event) -> None:
    """Show the lines the port's reader (the ingest) reads, until ``stop``."""
    from gateway import portlock
    from gateway.porttap import TapListener

    with TapListener(data_dir, port) as tap:
        click.echo(f"the ingest reads {port}: showing what it reads and stores (Ctrl-C to stop)", err=True)
        reading, next_check = True, time.monotonic() + 1.0
        while not stop.is_set():
            lines = tap.read(0.2)
            if lines:
                printer.handle(lines)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + 1.0
                tap.follow()
                if portlock.is_claimed(data_dir, port) != reading:
                    reading = not reading
                    click.echo(f"the ingest reads {port} again" if reading else
                               f"no process reads {port} now (is the ingest running? `systemctl status "
                               "anjungan-ingest`); waiting for it", err=True)  # fmt: skip


def _read_the_port(
    cfg: config_mod.Config, port: str, baud: int, printer: PrintSink, stop: threading.Event
) -> None:
    """Read the port ourselves, showing each line and storing it as the ingest would, until ``stop``."""
    from gateway.ingest.serial_reader import SerialReader
    from gateway.store import Store

    if "://" not in port and not os.path.exists(port):
        raise AnjunganError(missing_port_message(port))
    store = Store.existing_from_config(cfg) if cfg.store_path.exists() else None
    if store is None:
        click.echo(f"no store at {cfg.store_path}: frames are shown, not stored", err=True)
    source = port if "://" in port else os.path.abspath(port)
    sink: LineSink = printer if store is None else TeeSink(printer, FrameSink(store.writer(), source))
    try:
        # with a store, the reader claims the port: an ingest that starts meanwhile waits until we are done
        with SerialReader(port, sink, baud=baud, data_dir=cfg.data_dir if store else None) as reader:
            if reader.is_open.wait(3.0):
                click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
            else:
                click.echo(f"{port}: cannot open yet; retrying (Ctrl-C to stop)", err=True)
            while not stop.wait(0.2):
                pass
    finally:
        if store is not None:
            store.close()  # the writer commits what it was handed before it stops


def missing_port_message(port: str) -> str:
    """One line for a serial device that does not exist, naming the nodes' devices that do."""
    named = sorted(str(p) for p in Path("/dev").glob("anjungan-node-*"))
    if named:
        return f"no device {port}; nodes plugged in now: {', '.join(named)}"
    others = sorted(str(p) for pattern in ("ttyACM*", "ttyUSB*") for p in Path("/dev").glob(pattern))
    seen = f"serial devices: {', '.join(others)}" if others else "no USB serial device either"
    return f"no device {port}, and no /dev/anjungan-node-* is plugged in ({seen}; see `ls -l /dev/serial/by-id/`)"
