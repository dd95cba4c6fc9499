"""The fleet's commands of ``anjungan central``: ``alerts run|list|ack``, ``fleet place|node|rollup|completeness``."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click
from sqlalchemy.exc import IntegrityError

from gateway.errors import AnjunganError
from gateway.stopsignals import stop_on_signals
from sync.central.app import CentralState, open_central
from sync.central.backoffice import accounts
from sync.central.backoffice.audit import Actor
from sync.central.fleet import alerts, completeness, places, rollup
from sync.central.fleet.settings import FleetSettings

F = TypeVar("F", bound=Callable[..., Any])


def _plain(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (AnjunganError, places.PlaceError, alerts.AlertError, ValueError, IntegrityError) as err:
            raise click.ClickException(str(err).splitlines()[0]) from err

    return wrapper  # type: ignore[return-value]


def _open(ctx: click.Context) -> CentralState:
    obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
    state = open_central(obj["db_url"], files_dir=obj["files_dir"])
    ctx.call_on_close(state.engine.dispose)
    return state


def _now_ms() -> int:
    return int(time.time() * 1000)


_by = click.option(
    "--by", "actor", required=True, help="Who does this: an active officer's account name; audited."
)


def _officer(state: CentralState, name: str) -> Actor:
    """The officer ``name`` acting from the command line; accounts.UnknownOfficer when no such account."""
    return Actor(accounts.check_officer(state.engine, name), "cli")


@click.group("alerts")
def alerts_group() -> None:
    """The fleet's alerts: evaluate them (once or on a schedule), list them, acknowledge one."""


@alerts_group.command("run")
@click.option("--every", "every_s", type=int, default=0, show_default=True,
              help="Seconds between evaluations (0: one evaluation).")  # fmt: skip
@click.pass_context
@_plain
def alerts_run(ctx: click.Context, every_s: int) -> None:
    """Evaluate the alert rules now, open and resolve alerts, send the notifications due; one line per run."""
    state, cfg = _open(ctx), FleetSettings.from_env()

    def once() -> None:
        report = alerts.run(state.engine, _now_ms(), cfg)
        failed = sum(1 for d in report.sent if d.error)
        click.echo(f"opened {len(report.opened)}, resolved {len(report.resolved)}, "
                   f"notifications {len(report.sent) - failed} sent, {failed} failed")  # fmt: skip

    once()
    if every_s <= 0:
        return
    stop = threading.Event()
    with stop_on_signals(stop.set):
        while not stop.wait(every_s):
            once()


@alerts_group.command("list")
@click.option(
    "--state", type=click.Choice(alerts.STATES), help="Only alerts in this state (default: unresolved)."
)
@click.pass_context
@_plain
def alerts_list(ctx: click.Context, state: str | None) -> None:
    """Alerts as JSON lines, newest first."""
    with _open(ctx).engine.connect() as conn:
        for alert in alerts.listing(conn, state):
            click.echo(json.dumps(alert, sort_keys=True))


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@_by
@click.pass_context
@_plain
def alerts_ack(ctx: click.Context, alert_id: int, actor: str) -> None:
    """Acknowledge an open alert."""
    from sync.central.backoffice import audit

    state, now = _open(ctx), _now_ms()
    officer = _officer(state, actor)
    with state.engine.begin() as conn:
        before = alerts.acknowledge(conn, alert_id, officer.username, now)
        audit.record(conn, officer, "alert-ack", f"alert:{alert_id}", now, {"state": before["state"]},
                     {"state": "acknowledged"})  # fmt: skip
    click.echo(f"alert {alert_id} acknowledged by {officer.username}")


@click.group("fleet")
def fleet_group() -> None:
    """The fleet: places of kiosks and nodes, nodes' producers and intervals, roll-ups, completeness."""


@fleet_group.command("place")
@click.argument("gateway_id")
@click.option("--node", default="", help="A node of the kiosk (default: the kiosk itself).")
@click.option("--label", required=True, help="Where it stands, e.g. 'Balai Desa Wonosalam'.")
@click.option("--lat", type=float, help="Latitude (WGS 84), e.g. -6.9. With --lon.")
@click.option("--lon", type=float, help="Longitude (WGS 84), e.g. 110.6. With --lat.")
@_by
@click.pass_context
@_plain
def fleet_place(ctx: click.Context, gateway_id: str, node: str, label: str, lat: float | None, lon: float | None,
                actor: str) -> None:  # fmt: skip
    """Set the place of a kiosk or node (shown on the fleet's map); audited. The kiosk must be registered; a node
    may be placed before its first report (the output says so)."""
    state = _open(ctx)
    heard = places.set_place(
        state.engine, gateway_id, node, label, lat, lon, _officer(state, actor), _now_ms()
    )
    click.echo(f"{gateway_id}{'/' + node if node else ''}: {label}")
    if not heard:
        click.echo(in_advance(gateway_id, node))


def in_advance(gateway_id: str, node: str) -> str:
    """The line the commands print after setting something for a node that has not reported yet."""
    return (f"node {node} has not reported yet; placed in advance (if it is a mistake: "
            f"anjungan central fleet forget-node {gateway_id} {node} --by OFFICER)")  # fmt: skip


def producer_value(producer: str | None, clear: bool) -> str | None:
    """The producer a command sets: ``--producer``'s OPD code, "" with ``--clear-producer``, None for neither.
    Raises click.UsageError for an empty ``--producer`` (it would clear silently) or both options."""
    if clear and producer is not None:
        raise click.UsageError("give --producer or --clear-producer, not both")
    if producer is not None and not producer.strip():
        raise click.UsageError("--producer needs an OPD code; to remove the producer, give --clear-producer")
    return "" if clear else producer


@fleet_group.command("node")
@click.argument("gateway_id")
@click.argument("node")
@click.option("--producer", help="The OPD that owns the node's data: a known OPD's code.")
@click.option("--clear-producer", is_flag=True, help="Remove the node's producer (instead of --producer).")
@click.option(
    "--interval", "interval_s", type=int, help="Seconds between its readings (0: as its kiosk reports)."
)
@_by
@click.pass_context
@_plain
def fleet_node(ctx: click.Context, gateway_id: str, node: str, producer: str | None, clear_producer: bool,
               interval_s: int | None, actor: str) -> None:  # fmt: skip
    """Set a node's producer and/or reading interval (completeness counts from them); audited. The kiosk must
    be registered; a node may be set before its first report (the output says so)."""
    producer = producer_value(producer, clear_producer)
    state = _open(ctx)
    heard = places.set_node(state.engine, gateway_id, node, _officer(state, actor), _now_ms(), producer=producer,
                            interval_s=interval_s)  # fmt: skip
    click.echo(f"{gateway_id}/{node} updated")
    if not heard:
        click.echo(in_advance(gateway_id, node))


@fleet_group.command("forget-node")
@click.argument("gateway_id")
@click.argument("node")
@_by
@click.pass_context
@_plain
def fleet_forget_node(ctx: click.Context, gateway_id: str, node: str, actor: str) -> None:
    """Remove a node placed by mistake (its place, producer and interval); audited. Refused for a node that has
    reported or has readings."""
    state = _open(ctx)
    removed = places.forget_node(state.engine, gateway_id, node, _officer(state, actor), _now_ms())
    click.echo(f"{gateway_id}/{node} forgotten ({', '.join(k for k, v in removed.items() if v)} removed)")


@fleet_group.command("rollup")
@click.option("--gateway", "gateway_id", help="Only this kiosk.")
@click.pass_context
@_plain
def fleet_rollup(ctx: click.Context, gateway_id: str | None) -> None:
    """Roll up readings stored before the roll-ups existed (batches roll up their own as they arrive)."""
    click.echo(f"rolled up {rollup.catch_up(_open(ctx).engine, gateway_id)} readings' seqs")


@fleet_group.command("completeness")
@click.option("--period", type=click.Choice(completeness.PERIODS), default="day", show_default=True)
@click.option("--date", "day", help="A date in the period (ISO, local; default: today).")
@click.option("--group", type=click.Choice(completeness.GROUPS), default="kiosk", show_default=True)
@click.pass_context
@_plain
def fleet_completeness(ctx: click.Context, period: str, day: str | None, group: str) -> None:
    """Completeness of the readings, one JSON line per node, kiosk or producer, worst first."""
    now = _now_ms()
    win = completeness.window(period, date.fromisoformat(day) if day else completeness.local_date(now))
    cfg = FleetSettings.from_env()
    with _open(ctx).engine.connect() as conn:
        for row in completeness.report(conn, win, now, group, default_interval_s=cfg.node_default_interval_s):
            click.echo(json.dumps({"period": win.label, **row}, sort_keys=True))


def register(group: click.Group) -> None:
    """Add ``alerts`` and ``fleet`` to ``anjungan central``."""
    group.add_command(alerts_group)
    group.add_command(fleet_group)
