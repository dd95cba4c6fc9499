"""``anjungan ingest``: read nodes into the store until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading

import click

from gateway import config as config_mod
from gateway import faults, sdnotify
from gateway.clicontext import pass_config
from gateway.errors import ConfigError
from gateway.stopsignals import stop_on_signals

log = logging.getLogger("gateway.ingest")


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 1883
    try:
        return host, int(port)
    except ValueError:
        raise ConfigError(f"--mqtt: expected HOST:PORT, got {text!r}") from None


def setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.command("ingest")
@click.option("--serial", "serial_ports", multiple=True, metavar="PORT",
              help="A serial port to read (repeatable); added to the [[serial]] ports of the configuration.")  # fmt: skip
@click.option(
    "--mqtt", "mqtt", metavar="HOST:PORT", help="MQTT broker to read (instead of [mqtt] host/port)."
)
@pass_config
def ingest_command(cfg: config_mod.Config, serial_ports: tuple[str, ...], mqtt: str | None) -> None:
    """Read nodes (serial ports and MQTT) into the store until SIGTERM or SIGINT."""
    from gateway.ingest.service import Ingest
    from gateway.store import Store

    setup_logging()
    broker = parse_host_port(mqtt) if mqtt else None
    stop = threading.Event()
    with (
        stop_on_signals(stop.set),
        Store.from_config(cfg) as store,
        Ingest.from_config(store, cfg, extra_serial=serial_ports, mqtt=broker) as ingest,
    ):
        log.info("ingest: reading %s into %s", ingest.describe(), store.path)
        sdnotify.ready(f"reading {ingest.describe()}")
        while not stop.wait(1.0):
            faults.point("ingest.loop")
            sdnotify.ping()  # systemd's watchdog: a stuck loop stops the pings
        log.info("ingest: stopping")
    log.info("ingest: stopped")
