"""``anjungan kiosk``: serve the kiosk with waitress."""

from __future__ import annotations

from typing import Any

import click

from gateway.clicontext import pass_config


@click.command("kiosk")
@click.option("--host", help="Listen address (default from [kiosk] host).")
@click.option("--port", type=int, help="Listen port (default from [kiosk] port).")
@pass_config
def kiosk_command(cfg: Any, host: str | None, port: int | None) -> None:
    """Serve the citizen kiosk (waitress)."""
    import waitress

    from kiosk.app import create_app

    app = create_app(cfg)
    host, port = host or cfg.kiosk.host, port or cfg.kiosk.port
    click.echo(f"kiosk on http://{host}:{port}/")
    waitress.serve(app, host=host, port=port, threads=8, ident="anjungan")
