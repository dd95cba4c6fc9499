"""The open-data commands of ``anjungan central``: Open311 withholding, Satu Data places, aggregate exports
as Frictionless Data Packages, CKAN publishing (once or on a schedule)."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gateway.errors import AnjunganError
from gateway.stopsignals import stop_on_signals
from sync.central.app import CentralState, open_central, require_database
from sync.central.backoffice import accounts
from sync.central.opendata import aggregates, audit, ckan, datapackage, downloads, open311, satudata, settings
from sync.central.settings import CentralSettings

F = TypeVar("F", bound=Callable[..., Any])


def _plain(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (AnjunganError, downloads.QueryError, accounts.UnknownOpd, accounts.UnknownOfficer) as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


def _open(ctx: click.Context) -> CentralState:
    obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
    require_database(obj["db_url"] or CentralSettings.from_env().db)
    state = open_central(obj["db_url"], files_dir=obj["files_dir"])
    ctx.call_on_close(state.engine.dispose)
    return state


def _config() -> dict[str, Any]:
    return settings.from_environment()


_by = click.option(
    "--by", "actor", required=True, help="Who does this: an active officer's account name; audited."
)


def _officer(state: CentralState, name: str) -> str:
    """The account name of the officer ``name``; accounts.UnknownOfficer when no active account has it."""
    return accounts.check_officer(state.engine, name)


_reason = click.option("--reason", required=True, help="Why; kept in the audit.")


@click.command("open311-hide")
@click.argument("ref")
@_reason
@_by
@click.pass_context
@_plain
def open311_hide(ctx: click.Context, ref: str, reason: str, actor: str) -> None:
    """Withhold complaint REF (its Open311 id or registration number) from Open311."""
    state = _open(ctx)
    click.echo(f"withheld {open311.hide(state.engine, ref, reason, _officer(state, actor))}")


@click.command("open311-show")
@click.argument("ref")
@_reason
@_by
@click.pass_context
@_plain
def open311_show(ctx: click.Context, ref: str, reason: str, actor: str) -> None:
    """Publish again a complaint withheld with open311-hide."""
    state = _open(ctx)
    click.echo(f"shown {open311.unhide(state.engine, ref, reason, _officer(state, actor))}")


@click.command("open311-withheld")
@click.pass_context
@_plain
def open311_withheld(ctx: click.Context) -> None:
    """List the complaints withheld from Open311 (JSON lines: uuid, reason, hidden_by, hidden_ms)."""
    for row in open311.withheld(_open(ctx).engine):
        click.echo(json.dumps(row, ensure_ascii=False))


@click.command("opendata-audit")
@click.option("--limit", default=100, show_default=True, type=int)
@click.pass_context
@_plain
def opendata_audit(ctx: click.Context, limit: int) -> None:
    """The newest open-data actions (hide, show, set-place, publish-ckan), newest first, as JSON lines."""
    for entry in audit.entries(_open(ctx).engine, limit):
        click.echo(json.dumps(entry, ensure_ascii=False))


@click.command("set-place")
@click.argument("gateway_id")
@click.option("--node", help="One node of the kiosk (default: the kiosk itself, for all its nodes).")
@click.option("--region-code", help="Kemendagri code of the desa/kecamatan, e.g. 33.21.01.2001.")
@click.option("--producer", help="The producer (produsen data) of the data: a known OPD's code, e.g. bpbd. "
              "A node's producer is the fleet's (fleet node --producer).")  # fmt: skip
@click.option("--clear-producer", is_flag=True, help="Remove the producer (instead of --producer).")
@_by
@click.pass_context
@_plain
def set_place(
    ctx: click.Context,
    gateway_id: str,
    node: str | None,
    region_code: str | None,
    producer: str | None,
    clear_producer: bool,
    actor: str,
) -> None:
    """Set the Satu Data reference code and producer of a kiosk's (or one node's) data; audited. The kiosk must
    be registered; a node may be set before its first report (the output says so)."""
    from sync.central.fleet.cli import in_advance, producer_value

    producer = producer_value(producer, clear_producer)
    state = _open(ctx)
    heard = satudata.set_place(
        state.engine, gateway_id, node, region_code=region_code, producer=producer,
        actor=_officer(state, actor),
    )  # fmt: skip
    click.echo(
        f"{gateway_id}{'/' + node if node else ''}: region {region_code or '-'}, producer {producer or '-'}"
    )
    if node and not heard:
        click.echo(in_advance(gateway_id, node))


@click.command("export-aggregates")
@click.option("--period", type=click.Choice(aggregates.PERIODS), default="hour", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--gateway", "gateway_id", help="Only this kiosk's readings.")
@click.option("--node", help="Only this node.")
@click.option("--name", help="Only this measurement, e.g. water_cm.")
@click.option("--start", help="From this ISO date or datetime (local time unless it says its offset).")
@click.option("--end", help="Until (before) this ISO date or datetime.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a Frictionless Data Package (the data file and datapackage.json) into this folder; "
    "default: print the rows.",
)
@click.pass_context
@_plain
def export_aggregates(
    ctx: click.Context, period: str, fmt: str, gateway_id: str | None, node: str | None, name: str | None,
    start: str | None, end: str | None, out: Path | None,
) -> None:  # fmt: skip
    """Hourly, daily or monthly aggregates (count, mean, min, max, sum) per node and measurement."""
    config = _config()
    offset_h = int(settings.value(config, "utc_offset_h"))
    zone_args: dict[str, int | None] = {"start_ms": None, "end_ms": None}
    for key, text in (("start_ms", start), ("end_ms", end)):
        if text:
            zone_args[key] = downloads.parse_moment(text, key[:-3], offset_h)
    state = _open(ctx)
    with state.engine.connect() as conn:
        rows = aggregates.aggregate_rows(
            conn, period, offset_h=offset_h, default_producer=str(settings.value(config, "producer")),
            gateway_id=gateway_id, node=node, name=name, **zone_args,
        )  # fmt: skip
    if out is not None:
        path = datapackage.write_package(out, rows, period, fmt, walidata=str(settings.value(config, "walidata")),
                                         license=str(settings.value(config, "license")))  # fmt: skip
        click.echo(f"{len(rows)} row(s); {path}")
        return
    click.echo(datapackage.csv_text(rows) if fmt == "csv" else datapackage.json_text(rows), nl=False)


def _ckan_option(key: str, flag: str, what: str) -> Callable[[F], F]:
    """An option of publish-ckan that may instead come from its setting (the environment): optional here,
    checked by :func:`_needed` once both ways were looked at."""
    env = settings.SETTINGS_BY_KEY[key].env_name
    return click.option(flag, key, help=f"{what} (or {env}).")


def _needed(config: dict[str, Any], given: dict[str, str | None]) -> dict[str, str]:
    """The publish-ckan values ``given`` on the command line, else from their settings; ClickException naming
    both ways (the option and the environment variable) for each one missing."""
    out: dict[str, str] = {}
    missing = []
    for key, value in given.items():
        value = value or str(settings.value(config, key) or "")
        if not value:
            flag = "--" + key.removeprefix("ckan_").replace("_", "-")
            missing.append(f"{flag} or {settings.SETTINGS_BY_KEY[key].env_name}")
        out[key] = value
    if missing:
        raise click.UsageError("missing: " + "; ".join(missing))
    return out


@click.command("publish-ckan")
@_ckan_option("ckan_url", "--url", "The CKAN portal's URL")
@_ckan_option("ckan_api_key", "--api-key", "A CKAN API key; better in the environment than on a command line")
@_ckan_option("ckan_resource_id", "--resource-id", "The DataStore resource")
@click.option(
    "--every",
    "every_s",
    envvar="ANJUNGAN_CENTRAL_SERVER_CKAN_EVERY_S",
    type=click.IntRange(min=0),
    default=0,
    help="Publish now and then every this many seconds until stopped (0: once; or ANJUNGAN_CENTRAL_SERVER_"
    "CKAN_EVERY_S).",
)
@click.pass_context
@_plain
def publish_ckan(
    ctx: click.Context,
    ckan_url: str | None,
    ckan_api_key: str | None,
    ckan_resource_id: str | None,
    every_s: int,
) -> None:
    """Publish hourly sensor aggregates to a CKAN DataStore resource (upserts keyed by node, name and period
    start: a re-run never duplicates). URL, API key and resource come from the options or the environment."""
    config = _config()
    given = _needed(config, {"ckan_url": ckan_url, "ckan_api_key": ckan_api_key,
                             "ckan_resource_id": ckan_resource_id})  # fmt: skip
    url, api_key, resource_id = given["ckan_url"], given["ckan_api_key"], given["ckan_resource_id"]
    options = ckan.Options(
        resource_id=resource_id,
        offset_h=int(settings.value(config, "utc_offset_h")),
        producer=str(settings.value(config, "producer")),
        walidata=str(settings.value(config, "walidata")),
        license=str(settings.value(config, "license")),
    )
    state, client = _open(ctx), ckan.remote(url, api_key)

    def once() -> ckan.Report:
        return ckan.publish(state.engine, client, options)

    if not every_s:
        report = once()
        click.echo(f"published {report.rows} row(s) from {len(report.gateways)} gateway(s)")
        return
    stop = threading.Event()
    with stop_on_signals(stop.set):
        ckan.run_every(every_s, once, stop, lambda line: click.echo(line))


COMMANDS = (open311_hide, open311_show, open311_withheld, opendata_audit, set_place, export_aggregates,
            publish_ckan)  # fmt: skip


def register(group: click.Group) -> None:
    """Add the open-data commands to ``anjungan central``."""
    for command in COMMANDS:
        group.add_command(command)
