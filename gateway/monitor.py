"""``anjungan node monitor --port PORT``: a node's frames and console lines, live, until Ctrl-C.

If the ingest holds the port, the monitor asks it to let go for as long as the monitor runs
(:func:`gateway.portlock.released`) and the ingest takes it back afterwards. While the monitor holds the port it
does the ingest's work too: every line it shows goes to the store exactly as the ingest would store it (frames
to the writer, anything else to the console log), so that monitoring a node never loses its readings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import click

from gateway import config as config_mod
from gateway.clicontext import pass_config
from gateway.errors import FrameError
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

    What it shows is also stored, as the ingest would store it, when the gateway's store exists.
    """
    from gateway import portlock
    from gateway.ingest.serial_reader import SerialReader
    from gateway.store import Store

    stop = threading.Event()
    with stop_on_signals(stop.set):  # until the store is closed: a second Ctrl-C never cuts its last commit
        printer = PrintSink(raw, lambda text: click.echo(text))
        store = Store.from_config(cfg) if cfg.store_path.exists() else None
        if store is None:
            click.echo(f"no store at {cfg.store_path}: frames are shown, not stored", err=True)
        sink: LineSink = printer if store is None else TeeSink(printer, FrameSink(store.writer(), port))
        try:
            with portlock.released(cfg.data_dir, port), SerialReader(port, sink, baud=baud) as reader:
                if reader.is_open.wait(3.0):
                    click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
                else:
                    click.echo(f"{port}: cannot open yet; retrying (Ctrl-C to stop)", err=True)
                while not stop.wait(0.2):
                    pass
        finally:
            if store is not None:
                store.close()  # the writer commits what it was handed before it stops
