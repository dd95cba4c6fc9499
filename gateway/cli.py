"""The ``anjungan`` command line: the root group and the gateway's own commands.

kiosk and sync contribute their groups through the ``anjungan.commands`` entry-point group, so the gateway
never imports them. Errors of ours print as one plain line and exit 1.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import importlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from gateway import __version__, private
from gateway import config as config_mod
from gateway.clicontext import AppContext, app_context, pass_config
from gateway.errors import AnjunganError, ConfigError
from gateway.vocabulary import READING_EXPORT_KEYS


class LazyGroup(click.Group):
    """A group whose ``lazy`` commands (name -> ``"module:attribute"``) are imported only when asked for, so
    that a long-running service (``anjungan ingest``) does not carry the modules of the others in its memory
    (the doctor's, the flasher's: several MB of RSS each)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self.lazy:
            module, _, attribute = self.lazy[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), self.lazy[name]
        return command


class RootGroup(LazyGroup):
    """Adds the commands other parts contribute through the ``anjungan.commands`` entry points."""

    def _plugins(self) -> dict[str, Any]:
        # imported here: importlib.metadata brings the email package (about 2 MB), which the ingest never needs
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="anjungan.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            command = self._plugins()[name].load()
        return command


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={"ingest": "gateway.ingest.cli:ingest_command", "clock": "gateway.clockset:clock_group"},
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="ANJUNGAN_CONFIG",
    help="Configuration file (default ./anjungan.toml; /etc/anjungan/gateway.toml in the field).",
)
@click.version_option(__version__, prog_name="anjungan")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """anjungan — the public-information kiosk gateway: kiosk, sensor nodes, store-and-forward sync."""
    ctx.obj = AppContext(config_path)


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option(
    "--sample-content", is_flag=True, help="Seed the store with realistic sample public information."
)
@click.option("--gateway-id", help="This kiosk's id (lower case, also the registration-number prefix).")
@click.option("--name", "office_name", help="The office's name shown on the kiosk.")
@click.option("--data-dir", help="Where the store lives (default ./data).")
def init(
    force: bool, sample_content: bool, gateway_id: str | None, office_name: str | None, data_dir: str | None
) -> None:
    """Write a commented configuration file and create the store."""
    ctx = app_context()
    path = ctx.config_path or config_mod.DEFAULT_PATH
    overrides: dict[str, dict[str, object]] = {"gateway": {k: v for k, v in
                             {"id": gateway_id, "name": office_name, "data_dir": data_dir}.items() if v}}  # fmt: skip
    if path.exists() and not force:
        click.echo(f"{path} exists; keeping it (use --force to overwrite)")
    else:
        private.write_text(path, config_mod.commented_toml(overrides))  # holds secrets: 0600
        click.echo(f"wrote {path}")
        if not gateway_id:
            click.echo("note: [gateway] id is the built-in example: give each kiosk its own (--gateway-id), it "
                       "prefixes every registration number")  # fmt: skip
    cfg = config_mod.load(path)
    from gateway.store import Store

    with Store.from_config(cfg) as store:
        click.echo(f"store ready at {store.path}")
        if sample_content:
            from gateway.sample_content import seed

            count = seed(store, cfg)
            click.echo(f"seeded {count} sample content items")


def _parse_since(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since: not an ISO 8601 date or time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@cli.command()
@click.option("--node", help="Only this node's readings.")
@click.option("--since", help="Only readings received at or after this ISO 8601 time (UTC unless given).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@pass_config
def readings(cfg: config_mod.Config, node: str | None, since: str | None, fmt: str) -> None:
    """Print stored readings, one per line (node, boot, seq, name, value, received_at)."""
    from gateway.store import Store

    since_ms = _parse_since(since)
    with Store.existing_from_config(cfg) as store:  # read as it is: never created, never migrated
        known = [row["node"] for row in store.nodes()]
        if node is not None and node not in known:
            listed = ", ".join(known) if known else "none yet"
            raise AnjunganError(f"no node {node!r} is known to this gateway (known: {listed})")
        out = sys.stdout
        fields = list(READING_EXPORT_KEYS)
        writer = csv.DictWriter(out, fields, lineterminator="\n") if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for row in store.readings(node=node, since_ms=since_ms):
            if writer:
                writer.writerow(row)
            else:
                out.write(json.dumps(row, separators=(",", ":")) + "\n")


@cli.group(
    cls=LazyGroup,
    lazy={"list": "gateway.health:node_list_command", "flash": "gateway.flash:flash_command",
          "monitor": "gateway.monitor:monitor_command", "simulate": "gateway.simulator.cli:simulate_command"},
)  # fmt: skip
def node() -> None:
    """Sensor nodes: list them, flash one, watch one, simulate one."""


@cli.command()
@pass_config
def run(cfg: config_mod.Config) -> None:
    """Run ingest, kiosk and sync as child processes (the field uses one systemd unit each)."""
    from gateway.supervise import Child, Supervisor, anjungan_argv

    base = ["--config", str(cfg.path)] if cfg.path else []
    children = [
        Child("ingest", anjungan_argv(*base, "ingest")),
        Child("kiosk", anjungan_argv(*base, "kiosk")),
    ]
    if cfg.central.url:
        children.append(Child("sync", anjungan_argv(*base, "sync", "run")))
    Supervisor(children, echo=click.echo).run()


@cli.command()
@click.option("--dir", "demo_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("demo"),
              show_default=True, help="Where the demo keeps its configuration, store and logs.")  # fmt: skip
@click.option("--kiosk-port", type=int, default=8080, show_default=True)
@click.option("--central-port", type=int, default=8600, show_default=True)
def demo(demo_dir: Path, kiosk_port: int, central_port: int) -> None:
    """Everything on one machine: gateway, kiosk, three simulated nodes and a local central."""
    from gateway.demo import run_demo

    run_demo(demo_dir, kiosk_port=kiosk_port, central_port=central_port, echo=click.echo)


@cli.command()
@pass_config
def upgrade(cfg: config_mod.Config) -> None:
    """Migrate the store to this release: a backup first, then every migration or none.

    The read-only commands and the technician's tools never migrate: they refuse an older store in one line
    that says to run this. (The services bring a store up to date when they start; hardware/install-pi.sh runs
    this command first, so the backup is always made.)
    """
    from gateway.upgrade import upgrade as upgrade_store

    result = upgrade_store(cfg.store_path, Path(cfg.data_dir) / "backups")
    if not result.applied:
        click.echo(f"store {cfg.store_path} is up to date")
        return
    click.echo(f"backed up the store to {result.backup}")
    click.echo(f"store {cfg.store_path} migrated: {', '.join(result.applied)}")


@cli.command()
@pass_config
def doctor(cfg: config_mod.Config) -> None:
    """The technician's first command: findings in Bahasa Indonesia and English, each with its fix.

    Reads only (a missing configuration or store is reported, never created); exits 1 when something needs a
    hand.
    """
    from gateway.doctor import run_checks

    problems = 0
    for finding in run_checks(cfg):
        click.echo(f"{'ok' if finding.ok else 'PERLU':<5}  {finding.id}")
        click.echo(f"       {finding.en}")
        if not finding.ok:
            click.echo(f"       -> {finding.fix_id}")
            click.echo(f"       -> {finding.fix_en}")
        problems += not finding.ok
    if problems:
        raise AnjunganError(f"{problems} temuan perlu ditangani / {problems} finding(s) need a hand")


M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2  # glibc's default is 8 per core, one per thread that allocates, each keeping its own pages


def _few_malloc_arenas() -> None:
    """Let the threads of a service share two malloc arenas (as ``MALLOC_ARENA_MAX=2`` would, unless that is
    set): the ingest runs a thread per port, the kiosk one per request, and each arena keeps freed pages
    resident on its own. Nothing happens where the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; our errors become one plain line on stderr and exit 1."""
    _few_malloc_arenas()
    try:
        cli.main(args=argv, prog_name="anjungan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.UsageError as err:  # a wrong option or argument: click's message with the usage line
        err.show()
        sys.exit(err.exit_code)
    except click.ClickException as err:  # a command's own refusal (the central's commands raise these)
        click.echo(f"anjungan: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except AnjunganError as err:
        click.echo(f"anjungan: {err}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
