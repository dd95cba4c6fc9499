"""``anjungan node flash``: copy the firmware and the node's config.json to a board, verify, reset, and wait
for its hello frame.

mpremote's :class:`SerialTransport` (pinned version) is used as a library: one raw-REPL session copies
every file whose sha256 on the board differs, checks each copied file's sha256, then resets the board.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import click

from gateway import portlock
from gateway.clicontext import pass_config
from gateway.config import Config
from gateway.errors import AnjunganError, FrameError
from gateway.frame import Frame, parse_line

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware"
KINDS = ("water-level", "weather", "power")
CHUNK = 1024


class FlashError(AnjunganError):
    """Flashing a node failed (no board, copy or verification failed, no hello afterwards)."""


def node_config(node_id: str, kind: str, interval_s: float, **options: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"node_id": node_id, "kind": kind, "interval_s": interval_s, "transport": "serial"}
    if options.get("mqtt_host"):
        cfg["transport"] = "mqtt"
        cfg["mqtt"] = {
            "host": options["mqtt_host"],
            "port": options.get("mqtt_port") or 1883,
            "user": options.get("mqtt_user") or "",
            "password": options.get("mqtt_password") or "",
        }
        cfg["wifi"] = {"ssid": options.get("wifi_ssid") or "", "password": options.get("wifi_password") or ""}
    return cfg


def known_boot(cfg: Config, node_id: str) -> int | None:
    """The highest boot the gateway's store holds for ``node_id`` (frames or the nodes table), None when the
    store does not exist or does not know the node. A replacement board must boot above it: its frames are
    keyed (node, boot, q), and a reused key is dropped as a duplicate (docs/flashing.md)."""
    import sqlite3

    from gateway.errors import StoreError
    from gateway.store import Store

    path = Path(cfg.store_path)
    if not path.exists():
        return None
    try:
        with Store(path, readonly=True) as store:
            return store.highest_boot(node_id)
    except (StoreError, sqlite3.Error):
        return None


def firmware_files(config: dict[str, Any]) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(FIRMWARE_DIR.glob("*.py"))}
    files["config.json"] = (json.dumps(config, indent=1) + "\n").encode()
    return files


class BoardSession:
    """One raw-REPL session on a real board over its serial port (mpremote's ``SerialTransport``); the
    simulator's board is :class:`gateway.simulator.board.SimulatedBoard`."""

    def __init__(self, port: str):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self._errors: tuple[type[BaseException], ...] = (TransportError, OSError)
        if not Path(port).exists():
            from gateway.monitor import missing_port_message

            raise FlashError(missing_port_message(port))
        try:
            self.transport = SerialTransport(port, baudrate=115200)
            self.transport.enter_raw_repl(soft_reset=True)
        except self._errors as err:
            raise FlashError(f"{port}: no MicroPython board answers ({err})") from err

    def sha256(self, name: str) -> bytes | None:
        """The file's sha256 on the board, None if it is not there."""
        code = (
            f"import hashlib\ntry:\n f=open({name!r},'rb')\nexcept OSError:\n print(None)\nelse:\n h=hashlib.sha256()\n"
            " while True:\n  b=f.read(512)\n  if not b:\n   break\n  h.update(b)\n f.close()\n print(h.digest())"
        )
        out = self._exec(code).strip()
        return None if out == b"None" else ast.literal_eval(out.decode())

    def read_int(self, name: str) -> int:
        """The decimal number in the board's file ``name`` (0 when missing or not a number)."""
        code = f"try:\n print(int(open({name!r}).read().strip() or '0'))\nexcept (OSError, ValueError):\n print(0)"
        return int(self._exec(code).strip() or b"0")

    def write(self, name: str, data: bytes) -> None:
        tmp = name + ".tmp"
        self._exec(f"f=open({tmp!r},'wb')\nw=f.write")
        for i in range(0, len(data), CHUNK):
            self._exec(f"w({data[i : i + CHUNK]!r})")
        self._exec(f"f.close()\nimport os\nos.rename({tmp!r},{name!r})")

    def reset(self) -> None:
        try:
            self.transport.exec_raw_no_follow("import time, machine; time.sleep_ms(100); machine.reset()")
        except self._errors as err:
            raise FlashError(f"could not reset the board: {err}") from err

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.transport.close()

    def _exec(self, code: str) -> bytes:
        try:
            return bytes(self.transport.exec(code))
        except self._errors as err:
            raise FlashError(f"the board refused a command: {str(err).strip().splitlines()[-1:]}") from err


def copy_files(board: BoardSession, files: dict[str, bytes], progress: Any) -> list[str]:
    """Copy the files whose sha256 differs; verify each copy. Returns the names copied."""
    copied = []
    for name, data in files.items():
        digest = hashlib.sha256(data).digest()
        if board.sha256(name) != digest:
            board.write(name, data)
            if board.sha256(name) != digest:
                raise FlashError(f"{name}: sha256 on the board differs after copying")
            copied.append(name)
        progress.update(1)
    return copied


def wait_for_hello(line_port: Any, node_id: str, timeout_s: float, seen: list[bytes] | None = None) -> Frame:
    """Read lines from the (still open) port until the node's hello frame arrives; every line read (the
    hello last) is appended to ``seen``, so that the caller can store them as the ingest would have."""
    deadline = time.monotonic() + timeout_s
    line_port.timeout = 0.2
    last = b""
    pending = b""
    while time.monotonic() < deadline:
        pending += line_port.read(line_port.in_waiting or 1)
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            last = line or last
            if seen is not None:
                seen.append(line)
            try:
                frame = parse_line(line)
            except FrameError:
                continue
            if frame.kind == "h" and frame.node == node_id:
                return frame
    text = last.decode("ascii", "replace").strip() or "nothing"
    raise FlashError(f"no hello frame from {node_id} within {timeout_s:.0f} s (last line: {text})")


def flash(
    port: str,
    config: dict[str, Any],
    hello_timeout_s: float = 20.0,
    known: int | None = None,
    seen: list[bytes] | None = None,
) -> tuple[list[str], int, Frame]:
    """Flash ``port``; returns (files copied, files in all, the hello frame after the reset).

    ``known``: the highest boot the gateway knows for this node id; the board's ``bootcount.txt`` is raised to
    it (never lowered), so that its next boot is above every boot the store holds. ``seen`` gets the lines the
    board printed after the reset (see :func:`wait_for_hello`)."""
    files = firmware_files(config)
    board = BoardSession(port)
    try:
        if known is not None and board.read_int("bootcount.txt") < known:
            files["bootcount.txt"] = str(known).encode()
        with click.progressbar(length=len(files), label="Copying firmware") as bar:
            copied = copy_files(board, files, bar)
        board.reset()
        # the port stays open: reopening it would flush what the node printed meanwhile
        hello = wait_for_hello(board.transport.serial, config["node_id"], hello_timeout_s, seen)
    finally:
        board.close()
    return copied, len(files), hello


@click.command("flash")
@click.option("--port", required=True, help="The node's serial device (e.g. /dev/anjungan-node-wl01).")
@click.option("--node-id", required=True, help="Node id to give the board (a-z, 0-9, -; up to 32).")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the node measures.")
@click.option("--interval", "interval_s", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Seconds between readings.")  # fmt: skip
@click.option(
    "--mqtt-host", default="", help="Broker host: the node sends over WiFi/MQTT instead of USB serial."
)
@click.option("--mqtt-port", type=int, default=1883, show_default=True, help="Broker port.")
@click.option("--mqtt-user", default="", help="The node's user name at the broker (its node id: "
              "hardware/mqtt-node-credential.sh makes one).")  # fmt: skip
@click.option("--mqtt-password", default="", help="The node's password at the broker.")
@click.option("--wifi-ssid", default="", help="WiFi network for an MQTT node.")
@click.option("--wifi-password", default="", help="WiFi password for an MQTT node.")
@click.option(
    "--hello-timeout", type=float, default=20, show_default=True, help="Seconds to wait for the hello."
)
@pass_config
def flash_command(cfg: Config, port: str, node_id: str, kind: str, interval_s: float, mqtt_host: str, mqtt_port: int,
                  mqtt_user: str, mqtt_password: str, wifi_ssid: str, wifi_password: str, hello_timeout: float) -> None:  # fmt: skip
    """Copy firmware/ and the node's config.json to a board, verify them by sha256, reset, await its hello."""
    import re

    if not re.fullmatch(r"[a-z0-9-]{1,32}", node_id):
        raise FlashError(f"node id {node_id!r} must be 1-32 of a-z, 0-9 and '-'")
    config = node_config(
        node_id, kind, interval_s, mqtt_host=mqtt_host, mqtt_port=mqtt_port, mqtt_user=mqtt_user,
        mqtt_password=mqtt_password, wifi_ssid=wifi_ssid,
        wifi_password=wifi_password,
    )  # fmt: skip
    for warning in mqtt_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    seen: list[bytes] = []
    with portlock.released(cfg.data_dir, port):
        known = known_boot(cfg, node_id)
        copied, total, hello = flash(port, config, hello_timeout, known, seen)
        note = store_lines(cfg, port, seen)  # while the port is still ours: before the ingest's next frames
    if note:
        click.echo(note, err=True)
    skipped = total - len(copied)
    click.echo(f"copied {_files(len(copied))}, skipped {skipped} unchanged (sha256 verified)")
    if "bootcount.txt" in copied:
        click.echo(f"boot counter set above boot {known}, the highest this gateway holds for {node_id}")
    click.echo(f"{node_id} is alive: boot {hello.boot}, firmware {hello.extra.get('fw')}")


def mqtt_warnings(config: dict[str, Any]) -> list[str]:
    """What an MQTT node's config lacks to reach the gateway's broker (empty for a serial node)."""
    if config.get("transport") != "mqtt":
        return []
    out = []
    if not (config["mqtt"]["user"] and config["mqtt"]["password"]):
        out.append(
            "no --mqtt-user/--mqtt-password: the gateway's broker takes no anonymous clients, so this node will "
            "not be heard; make its account with `sudo hardware/mqtt-node-credential.sh "
            f"{config['node_id']}` and flash again with what it prints"
        )
    if not config["wifi"]["ssid"]:
        out.append("no --wifi-ssid: the node cannot join a WiFi network to reach the broker")
    return out


def store_lines(cfg: Config, port: str, lines: list[bytes]) -> str:
    """Store what the board printed after its reset (its hello above all: its firmware version) as the ingest
    would; answers a note when they could not be stored ("" when stored or when there is no store)."""
    from gateway.ingest.sink import FrameSink
    from gateway.store import Store

    if not lines or not Path(cfg.store_path).exists():
        return ""
    try:
        with Store.existing_from_config(cfg) as store:
            FrameSink(store.writer(), port if "://" in port else os.path.abspath(port)).handle(lines)
    except AnjunganError as err:  # the store needs an upgrade, or cannot be written now
        return f"the node's hello is not stored: {err}"
    return ""


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"
