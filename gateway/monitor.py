"""``anjungan node monitor --port PORT``: a node's frames and console lines, live, until Ctrl-C.

If the ingest holds the port, the monitor asks it to let go for as long as the monitor runs
(:func:`gateway.portlock.released`) and the ingest takes it back afterwards.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

import click

from gateway import config as config_mod
from gateway.clicontext import pass_config
from gateway.errors import FrameError
from gateway.frame import Frame, parse_line
from gateway.ingest.sink import is_blank


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


@click.command("monitor")
@click.option("--port", required=True, help="Serial device (or pyserial URL) of the node.")
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--raw", is_flag=True, help="Print lines exactly as received, without decoding frames.")
@pass_config
def monitor_command(cfg: config_mod.Config, port: str, baud: int, raw: bool) -> None:
    """Show a node's frames (decoded, one a line) and console lines (marked |) live, until Ctrl-C."""
    from gateway import portlock
    from gateway.ingest.serial_reader import SerialReader

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    sink = PrintSink(raw, lambda text: click.echo(text))
    try:
        with portlock.released(cfg.data_dir, port), SerialReader(port, sink, baud=baud) as reader:
            if reader.is_open.wait(3.0):
                click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
            else:
                click.echo(f"{port}: cannot open yet; retrying (Ctrl-C to stop)", err=True)
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
