"""``anjungan kiosk``: serve the kiosk with waitress (and ``--hash-password`` for the operator password)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click

from gateway.clicontext import pass_config

log = logging.getLogger(__name__)
WATCH_SECONDS = 5.0


def _watch_alerts(app: Any, stop: threading.Event) -> None:
    """Evaluate the sensor alerts every few seconds even when no screen is open (events are recorded once)."""
    from kiosk.alerts import Thresholds, evaluate

    store = app.extensions["anjungan_store"]
    cfg = app.config
    limits = Thresholds(
        float(cfg["KIOSK_WATER_ALERT_CM"]), float(cfg["KIOSK_MAINS_MIN_V"]), int(cfg["KIOSK_STALE_MS"])
    )
    warned = False
    while not stop.wait(WATCH_SECONDS):
        try:
            evaluate(store, limits)
            warned = False
        except Exception as err:  # the store may be busy or briefly unavailable: say it once, keep watching
            if not warned:
                log.warning("alert watcher: %s", err)
                warned = True


def _prerender_documents(app: Any, stop: threading.Event) -> None:
    """Render every page of each document as it arrives (requests then only read files)."""
    from kiosk.documents import prerender

    store = app.extensions["anjungan_store"]
    warned = False
    while True:
        try:
            made = prerender(store, app.config["KIOSK_DATA_DIR"], app.extensions["anjungan_renderer"])
            if made:
                log.info("rendered %d document pages", made)
            warned = False
        except Exception as err:  # the store may be busy: say it once, keep watching
            if not warned:
                log.warning("document pages: %s", err)
                warned = True
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
def kiosk_command(cfg: Any, host: str | None, port: int | None, threads: int, hash_password: bool) -> None:
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
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="anjungan")
    try:
        _serve(server)
    finally:
        stop.set()


def _serve(server: Any) -> None:
    """waitress's own loop (``server.run()``), one poll at a time so that each iteration feeds the watchdog."""
    from gateway import sdnotify

    sdnotify.ready("serving")
    socket_map = getattr(server, "map", None) or server._map  # MultiSocketServer.map, or one server's _map
    try:
        while True:
            server.asyncore.loop(
                timeout=server.adj.asyncore_loop_timeout,
                map=socket_map,
                use_poll=server.adj.asyncore_use_poll,
                count=1,
            )
            sdnotify.ping()  # systemd's watchdog: a stuck loop stops the pings
    except (SystemExit, KeyboardInterrupt):  # as server.run() ends
        dispatcher = getattr(server, "task_dispatcher", None)
        if dispatcher is not None:
            dispatcher.shutdown()
        else:
            server.close()
