"""``anjungan central sms-worker``: send the SMS queue (once, or every ``sms_every_s`` seconds until stopped)."""

from __future__ import annotations

import threading
import time

import click

from gateway.errors import AnjunganError
from gateway.stopsignals import stop_on_signals
from sync.central.app import open_central
from sync.central.sms import worker
from sync.central.sms.senders import make_sender
from sync.central.sms.settings import SmsSettings


@click.command("sms-worker")
@click.option("--once", is_flag=True, help="One round, then exit (e.g. from a timer).")
@click.pass_context
def sms_worker(ctx: click.Context, once: bool) -> None:
    """Send the SMS to citizens that are due: each once, retried with backoff, at most the daily cap per number.

    The sender and its settings are ANJUNGAN_CENTRAL_SERVER_SMS_* (docs/sms.md). A message left half-sent by a
    stopped worker (once its claim's lease ran out), or taken by the modem but never confirmed, is listed as failed
    in the back office, never sent again by itself. One line per round.
    """
    try:
        cfg = SmsSettings.from_env()
        if not cfg.sms_sender:
            raise AnjunganError("no SMS sender: set ANJUNGAN_CENTRAL_SERVER_SMS_SENDER to modem or http")
        obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
        state = open_central(obj["db_url"], files_dir=obj["files_dir"])
    except AnjunganError as err:
        raise click.ClickException(str(err)) from err
    ctx.call_on_close(state.engine.dispose)
    sender = make_sender(cfg)
    assert sender is not None
    key = worker.hash_key(state.master_key, cfg)

    def round_() -> None:
        wall = lambda: int(time.time() * 1000)  # noqa: E731 - the clock of each claim
        click.echo(worker.send_due(state.engine, sender, cfg, key, wall(), clock=wall).line())

    round_()
    if once:
        return
    stop = threading.Event()
    with stop_on_signals(stop.set):
        while not stop.wait(max(1, cfg.sms_every_s)):
            round_()


def register(group: click.Group) -> None:
    """Add the SMS command to ``anjungan central``."""
    group.add_command(sms_worker)
