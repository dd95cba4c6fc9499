"""``anjungan kiosk``: serve the kiosk with waitress (and ``--hash-password`` for the operator password)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click

from gateway.clicontext import pass_config
from gateway.config import Config
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)
WATCH_SECONDS = 5.0
PROBE_SECONDS = 5.0  # at most this long between the watchdog's probes of the kiosk's own home page


def _watch_alerts(app: Any, stop: threading.Event) -> None:
    """Evaluate the sensor alerts every few seconds even when no screen is open (events are recorded once)."""
    from kiosk.alerts import Thresholds, evaluate

    store = app.extensions["anjungan_store"]
    cfg = app.config
    limits = Thresholds(
        float(cfg["KIOSK_WATER_ALERT_CM"]), float(cfg["KIOSK_MAINS_MIN_V"]), int(cfg["KIOSK_STALE_MS"])
    )
    trouble = WarnOnce(log, "alert watcher")
    while not stop.wait(WATCH_SECONDS):
        try:
            evaluate(store, limits)
        except Exception as err:  # the store may be busy or briefly unavailable: say it once, keep watching
            trouble.failed(err)
        else:
            trouble.recovered()


def _prerender_documents(app: Any, stop: threading.Event) -> None:
    """Render every page of each document as it arrives (requests then only read files)."""
    from kiosk.documents import prerender

    store = app.extensions["anjungan_store"]
    trouble = WarnOnce(log, "document pages")
    while True:
        try:
            made = prerender(store, app.config["KIOSK_DATA_DIR"], app.extensions["anjungan_renderer"])
        except Exception as err:  # the store may be busy: say it once, keep watching
            trouble.failed(err)
        else:
            trouble.recovered()
            if made:
                log.info("rendered %d document pages", made)
        if stop.wait(WATCH_SECONDS):
            return


@click.command("kiosk")
@click.option("--host", help="Listen address (default from [kiosk] host).")
@click.option("--port", type=int, help="Listen port (default from [kiosk] port).")
@click.option(
    "--threads",
    type=int,
    default=4,
    show_default=True,
    help="Request threads (few: a Pi has 4 cores and the pages are cached).",
)
@click.option(
    "--hash-password",
    is_flag=True,
    help="Ask for an operator password, print its hash for [kiosk] operator_password_hash, and exit.",
)
@pass_config
def kiosk_command(cfg: Config, host: str | None, port: int | None, threads: int, hash_password: bool) -> None:
    """Serve the citizen kiosk (waitress)."""
    if hash_password:
        from werkzeug.security import generate_password_hash

        password = click.prompt("Operator password", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            raise click.ClickException("use at least 8 characters")
        click.echo(generate_password_hash(password))
        return
    import waitress

    from kiosk.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(cfg)
    host, port = host or cfg.kiosk.host, port or cfg.kiosk.port
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_alerts, args=(app, stop), name="kiosk-alerts", daemon=True)
    watcher.start()
    pages = threading.Thread(target=_prerender_documents, args=(app, stop), name="kiosk-pages", daemon=True)
    pages.start()
    click.echo(f"kiosk on http://{host}:{port}/")
    watchdog = threading.Thread(
        target=_feed_watchdog, args=(host, port, stop), name="kiosk-watchdog", daemon=True
    )
    watchdog.start()
    try:
        waitress.serve(_entry(app), host=host, port=port, threads=threads, ident="anjungan")
    finally:
        stop.set()


def _entry(app: Any) -> Any:
    """The WSGI app as served: ``app`` behind the fault point ``kiosk.request`` (gateway/faults.py)."""
    from gateway import faults

    def serve(environ: Any, start_response: Any) -> Any:
        faults.point("kiosk.request")
        return app(environ, start_response)

    return serve


def _feed_watchdog(host: str, port: int, stop: threading.Event) -> None:
    """Feed systemd's watchdog (gateway/sdnotify.py) while the kiosk answers: every few seconds the kiosk asks
    itself for its home page on loopback, and only an answer (any status below 500, within the probe's timeout)
    sends READY (the first time) and WATCHDOG=1. A stuck server loop or request threads that all hang stop
    the pings, and systemd restarts the service. Nothing is probed outside systemd (no ``$NOTIFY_SOCKET``)."""
    import urllib.error
    import urllib.request

    from gateway import sdnotify

    notifier = sdnotify.notifier()
    if not notifier.enabled:
        return
    every = min(PROBE_SECONDS, (notifier.watchdog_s or 4 * PROBE_SECONDS) / 4)
    local = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    url = f"http://{'[' + local + ']' if ':' in local else local}:{port}/"
    ready = False
    while not stop.wait(0 if not ready else every):
        try:
            with urllib.request.urlopen(url, timeout=every * 2) as answer:
                alive = answer.status < 500
        except urllib.error.HTTPError as err:
            alive = err.code < 500
        except OSError:
            alive = False  # not listening yet, or not answering: no ping
        if alive and not ready:
            ready = notifier.ready("serving")
        if alive:
            notifier.ping()
        elif not ready:
            stop.wait(0.2)
