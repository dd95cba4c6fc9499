"""``anjungan sync run|now|status``: the sync loop, one round now, and what is waiting."""

from __future__ import annotations

import json
import logging
import sys
import threading

import click

from gateway.clicontext import pass_config
from gateway.config import Config
from gateway.errors import AnjunganError
from gateway.stopsignals import stop_on_signals
from gateway.store import Store
from gateway.vocabulary import STREAMS


@click.group("sync")
def sync_group() -> None:
    """Uplink and downlink with the central (Dinas Kominfo)."""


@sync_group.command("run")
@pass_config
def run_command(cfg: Config) -> None:
    """Sync until stopped (SIGTERM or Ctrl-C): a round every [sync] interval_s, earlier when there is backlog."""
    from sync.client import Settings, SyncClient
    from sync.client.lookup import LookupRelay
    from sync.client.transport import CentralLink

    settings = Settings.from_config(cfg)
    logging.basicConfig(level=logging.INFO, format="sync: %(message)s", stream=sys.stderr)
    stop = threading.Event()
    with (
        stop_on_signals(stop.set),  # the current request finishes, its answer is recorded, then we exit
        Store.from_config(cfg) as store,
        SyncClient(store, settings, stop=stop) as client,
        CentralLink(
            settings.url, settings.gateway_id, settings.secret, now=client.clock.now, timeout_s=10.0
        ) as link,
    ):
        # the kiosk's status lookups of other kiosks' numbers, answered within seconds, beside the rounds
        relay = threading.Thread(
            target=LookupRelay(store, link, stop).run, name="status-lookups", daemon=True
        )
        relay.start()
        try:
            client.run_forever()
        finally:
            stop.set()
            relay.join(30)


@sync_group.command("now")
@click.option("--attempts", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Rounds to try (with backoff) before giving up.")  # fmt: skip
@pass_config
def now_command(cfg: Config, attempts: int) -> None:
    """One sync round now, with a progress bar; exits 1 with one line if it fails."""
    from sync.client import Settings, SyncClient, SyncError

    settings = Settings.from_config(cfg)
    logging.getLogger("sync").setLevel(logging.ERROR)
    stop = threading.Event()
    # a missing store is made, as `sync run` makes it (the downlink fills it); an existing one is never migrated
    opened = Store.existing_from_config(cfg) if cfg.store_path.exists() else Store.from_config(cfg)
    with stop_on_signals(stop.set), opened as store:
        total = sum(store.pending_estimate().values())
        bar = click.progressbar(length=max(total, 1), label="uploading", file=sys.stderr)
        with bar, SyncClient(store, settings, stop=stop, on_acked=lambda _s, n: bar.update(n)) as client:
            try:
                result = client.run_once(attempts)
            except SyncError as err:
                raise AnjunganError(f"sync failed: {err}") from err
        failing = len(store.files_failing())
    click.echo(f"uploaded {result.uploaded} record(s), applied {result.changes} change(s), "
               f"fetched {result.files} file(s)")  # fmt: skip
    if failing:
        click.echo(
            f"{failing} document file(s) could not be fetched yet (see `anjungan sync status`)", err=True
        )


@sync_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_config
def status_command(cfg: Config, fmt: str) -> None:
    """Backlog per stream, the oldest unsynced record's age, last success and last error."""
    from sync.client import status

    with Store.existing_from_config(cfg) as store:  # never created, never migrated here
        report = status.collect(store)
    report["central"] = {"url": cfg.central.url or None, "gateway_id": cfg.central.gateway_id or None}
    click.echo(json.dumps(report, indent=2) if fmt == "json" else status.render(report))


@sync_group.group("dead-letters")
def dead_letters_group() -> None:
    """Records the central refused (or failed on again and again), set aside with the reason."""


_STREAM_OPTION = click.option("--stream", type=click.Choice(STREAMS), help="Only this stream.")


@dead_letters_group.command("list")
@_STREAM_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_config
def dead_letters_list(cfg: Config, stream: str | None, fmt: str) -> None:
    """Each dead letter: stream, seq, when, attempts, reason, which record (never personal data)."""

    with Store.existing_from_config(cfg) as store:  # never created, never migrated here
        rows = store.dead_letters(stream)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no dead letters")
    for row in rows:
        again = ", to be sent again" if row["retry_requested"] else ""
        click.echo(f"{row['stream']} {row['seq']}  {row['at']}  {row['summary']}  "
                   f"({row['attempts']} attempt(s){again})\n    {row['reason']}")  # fmt: skip


@dead_letters_group.command("retry")
@_STREAM_OPTION
@click.argument("seqs", metavar="[SEQ]...", nargs=-1, type=click.IntRange(1))
@pass_config
def dead_letters_retry(cfg: Config, stream: str | None, seqs: tuple[int, ...]) -> None:
    """Send dead letters again after a fix (all of them, or those SEQs): now when the central answers, else
    with the next sync round."""

    with Store.existing_from_config(cfg) as store:  # never created, never migrated here
        chosen = [(r["stream"], r["seq"]) for r in store.dead_letters(stream)
                  if not seqs or r["seq"] in seqs]  # fmt: skip
        _check_choice(chosen, seqs)
        for row_stream, seq in chosen:
            store.request_dead_letter_retry(row_stream, [seq])
        if not chosen:
            click.echo("no dead letters to send again")
            return
        note = _send_again_now(cfg, store)
        left = {(r["stream"], r["seq"]): r for r in store.dead_letters()}
    waiting = [key for key in chosen if key in left and left[key]["retry_requested"]]
    refused = [left[key] for key in chosen if key in left and not left[key]["retry_requested"]]
    click.echo(f"{len(chosen) - len(waiting) - len(refused)} of {len(chosen)} dead letter(s) sent again "
               "and stored by the central")  # fmt: skip
    for row in refused:
        click.echo(f"refused again: {row['stream']} {row['seq']} {row['summary']}: {row['reason']}")
    if waiting:
        click.echo(f"{len(waiting)} not sent yet ({note}): a later sync round sends them")


def _check_choice(chosen: list[tuple[str, int]], seqs: tuple[int, ...]) -> None:
    """Every SEQ names exactly one dead letter (else a plain error asking for --stream)."""
    for seq in seqs:
        streams = [stream for stream, s in chosen if s == seq]
        if not streams:
            raise AnjunganError(f"no dead letter with seq {seq} (see `anjungan sync dead-letters list`)")
        if len(streams) > 1:
            raise AnjunganError(
                f"seq {seq} is a dead letter of {' and '.join(streams)}: say which with --stream"
            )


def _send_again_now(cfg: Config, store: Store) -> str:
    """Send the dead letters asked for now; answers why not when it could not."""
    from sync.client import Settings, SyncClient, SyncError

    try:
        settings = Settings.from_config(cfg)
    except SyncError as err:
        return str(err)
    with SyncClient(store, settings) as client:
        try:
            client.uplink.retry_dead_letters()
        except SyncError as err:
            return str(err)
    return "not tried now"
