"""``anjungan node simulate``: a simulated sensor board on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from gateway import config as config_mod
from gateway import private
from gateway.clicontext import pass_config
from gateway.errors import AnjunganError
from gateway.simulator.physics import SCENARIOS
from gateway.stopsignals import stop_on_signals

KINDS = ("water-level", "weather", "power")
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"


class SimulatorError(AnjunganError):
    """The simulator cannot start (bad node id, unusable directory)."""


def node_config(node_id: str, kind: str, interval_s: float, **extra: Any) -> dict[str, Any]:
    """The config.json a serial node of ``kind`` gets (see docs/firmware.md)."""
    cfg: dict[str, Any] = {"node_id": node_id, "kind": kind, "interval_s": interval_s, "transport": "serial"}
    cfg.update(extra)
    return cfg


def provisioned_id(fs_dir: Path) -> str | None:
    """The node id in the board's config.json (None: no config, or one without an id)."""
    try:
        node_id = json.loads((fs_dir / "config.json").read_text()).get("node_id")
    except (OSError, ValueError, AttributeError):
        return None
    return node_id if isinstance(node_id, str) else None


def populate(fs_dir: Path, node_id: str, kind: str, interval_s: float) -> bool:
    """Put the project's firmware and a config.json on a fresh board; False if it was not fresh.

    Raises SimulatorError when the board was provisioned as another node: a board sends as the node it was
    flashed as, so a different ``node_id`` would be silently ignored.
    """
    if (fs_dir / "main.py").exists():
        existing = provisioned_id(fs_dir)
        if existing is not None and existing != node_id:
            raise SimulatorError(
                f"the board in {fs_dir} was provisioned as {existing!r}: use --node-id {existing}, "
                "or another --dir (or --blank) for a new board"
            )
        return False
    private.ensure_dir(fs_dir)
    for source in sorted(FIRMWARE_DIR.glob("*.py")):
        shutil.copyfile(source, fs_dir / source.name)
    config = node_config(node_id, kind, interval_s)
    (fs_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return True


def open_pty_link(link: Path) -> tuple[int, int]:
    master, slave = pty.openpty()
    private.ensure_dir(link.parent)
    tmp = link.with_name(link.name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.ttyname(slave))
    tmp.replace(link)
    return master, slave


@click.command("simulate")
@click.option("--node-id", default="sim-wl-01", show_default=True, help="Node id (a-z, 0-9, -; up to 32).")
@click.option("--kind", type=click.Choice(KINDS), default="water-level", show_default=True, help="Node kind.")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between readings (written to config.json on first start).")  # fmt: skip
@click.option("--dir", "fs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The board's filesystem directory [default: <data_dir>/sim/<node id>/fs].")  # fmt: skip
@click.option(
    "--blank",
    is_flag=True,
    help="Start with an empty filesystem (a board as MicroPython's installer leaves it).",
)
@click.option("--link", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to put the device symlink [default: beside the board directory, ttySIM-<node id>].")  # fmt: skip
@click.option("--scenario", type=click.Choice(sorted(SCENARIOS)), default=None,
              help="Scripted events in the first minutes (demo: a cloudburst from 30 s that takes the river over the flood threshold after about 5 minutes, a mains outage from 90 s to 240 s).")  # fmt: skip
@pass_config
def simulate_command(
    cfg: config_mod.Config,
    node_id: str,
    kind: str,
    interval_s: float,
    fs_dir: Path | None,
    blank: bool,
    link: Path | None,
    scenario: str | None,
) -> None:
    """Run a simulated sensor board on a pseudo-terminal until stopped.

    Prints the path of the board's device (a symlink to the pseudo-terminal) as the first line of stdout. The
    board runs the firmware in its directory and answers the REPL, so `mpremote connect <path> ...` works.
    """
    from gateway.simulator.board import SimulatedBoard

    if not re.fullmatch(r"[a-z0-9-]{1,32}", node_id):
        raise SimulatorError(f"node id {node_id!r} must be 1-32 of a-z, 0-9 and '-'")
    fs_dir = (fs_dir or cfg.data_dir / "sim" / node_id / "fs").resolve()
    link = (link or fs_dir.parent / f"ttySIM-{node_id}").absolute()
    try:
        if blank:
            private.ensure_dir(fs_dir)
        else:
            populate(fs_dir, node_id, kind, interval_s)
        master, slave = open_pty_link(link)
    except OSError as err:
        raise SimulatorError(f"cannot set up the board in {fs_dir}: {err.strerror or err}") from err
    board = SimulatedBoard(fs_dir, node_id, (master, slave), SCENARIOS[scenario] if scenario else None)
    try:
        with stop_on_signals(board.stop):
            click.echo(str(link))
            sys.stdout.flush()
            board.run()
    finally:
        if link.is_symlink() and os.readlink(link) == os.ttyname(slave):
            link.unlink()
        os.close(master)
        os.close(slave)
