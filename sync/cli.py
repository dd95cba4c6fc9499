"""``anjungan sync run|now|status``: the sync loop, one round now, and what is waiting."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from gateway.clicontext import pass_config
from gateway.errors import AnjunganError
from gateway.store import Store, files


@click.group("sync")
def sync_group() -> None:
    """Uplink and downlink with the central (Dinas Kominfo)."""


@sync_group.command("run")
@pass_config
def run_command(cfg: Any) -> None:
    """Sync until stopped (SIGTERM or Ctrl-C): a round every [sync] interval_s, earlier when there is backlog."""
    from sync.client import Settings, SyncClient

    settings = Settings.from_config(cfg)
    logging.basicConfig(level=logging.INFO, format="sync: %(message)s", stream=sys.stderr)
    stop = threading.Event()
    with (
        _stop_on_signals(stop),
        Store.from_config(cfg) as store,
        SyncClient(store, settings, stop=stop) as client,
    ):
        client.run_forever()


@sync_group.command("now")
@click.option("--attempts", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Rounds to try (with backoff) before giving up.")  # fmt: skip
@pass_config
def now_command(cfg: Any, attempts: int) -> None:
    """One sync round now, with a progress bar; exits 1 with one line if it fails."""
    from sync.client import Settings, SyncClient, SyncError
    from sync.client.service import pending_estimate

    settings = Settings.from_config(cfg)
    logging.getLogger("sync").setLevel(logging.ERROR)
    stop = threading.Event()
    with _stop_on_signals(stop), Store.from_config(cfg) as store:
        total = sum(pending_estimate(store).values())
        bar = click.progressbar(length=max(total, 1), label="uploading", file=sys.stderr)
        with bar, SyncClient(store, settings, stop=stop, on_acked=lambda _s, n: bar.update(n)) as client:
            try:
                result = client.run_once(attempts)
            except SyncError as err:
                raise AnjunganError(f"sync failed: {err}") from err
        failing = len(files.failing(store))
    click.echo(f"uploaded {result.uploaded} record(s), applied {result.changes} change(s), "
               f"fetched {result.files} file(s)")  # fmt: skip
    if failing:
        click.echo(
            f"{failing} document file(s) could not be fetched yet (see `anjungan sync status`)", err=True
        )


@sync_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_config
def status_command(cfg: Any, fmt: str) -> None:
    """Backlog per stream, the oldest unsynced record's age, last success and last error."""
    from sync.client import status

    if not cfg.store_path.exists():
        raise AnjunganError(f"no store at {cfg.store_path} (run `anjungan init` first)")
    with Store.from_config(cfg) as store:
        report = status.collect(store)
    click.echo(json.dumps(report, indent=2) if fmt == "json" else status.render(report))


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop``: the current request finishes, its answer is recorded, then we exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
