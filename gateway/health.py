"""``anjungan node list``: the known nodes and their health, as a plain table or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from gateway import config as config_mod
from gateway.clicontext import pass_config

COLUMNS = ["NODE", "STATUS", "LAST SEEN", "BOOT", "FW", "FRAMES/MIN", "BAD LINES", "RSSI", "BATTERY"]


def ago(seconds: int | None) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago``, ``2 d ago``; ``unknown (clock)`` when the age is not known
    (the last frame's stamp lies in the future: the wall clock was stepped back since)."""
    if seconds is None:
        return "unknown (clock)"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit != "min" else 1):
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _cell(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def table_rows(nodes: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [
            n["node"],
            n["status"],
            ago(n["last_seen_s"]),
            _cell(n["boot"]),
            _cell(n["fw"]),
            f"{n['frames_per_min']:.1f}",
            str(n["bad_lines"]),
            _cell(n["rssi"]),
            _cell(n["bat_v"], " V"),
        ]
        for n in nodes
    ]


def format_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    )


@click.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_config
def node_list_command(cfg: config_mod.Config, fmt: str) -> None:
    """Known nodes and their health: status, last seen, boot, firmware, frames/min, bad lines, RSSI, battery.

    A node is OFFLINE when it has missed [gateway] offline_after_intervals of its intervals.
    """
    from gateway.store import Store, iso_utc

    with Store.existing_from_config(cfg) as store:  # read as it is: never created, never migrated
        nodes = store.node_health(offline_after=cfg.gateway.offline_after_intervals)
    if fmt == "json":
        click.echo(json.dumps([{**n, "last_seen": iso_utc(n["last_seen"])} for n in nodes], indent=1))
    elif not nodes:
        click.echo("no nodes yet")
    else:
        click.echo(format_table(table_rows(nodes), COLUMNS))
