"""Serial and MQTT ingest — not built yet (issue 3)."""

import click

from gateway.errors import NotYetAvailable


@click.command("ingest", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def ingest_command() -> None:
    """Serial and MQTT ingest (not built yet)."""
    raise NotYetAvailable("`ingest` is not built yet: Serial and MQTT ingest comes with issue 3")
