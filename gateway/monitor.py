"""Live view of a node's frames and console — not built yet (issue 3)."""

import click

from gateway.errors import NotYetAvailable


@click.command("monitor", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def monitor_command() -> None:
    """Live view of a node's frames and console (not built yet)."""
    raise NotYetAvailable(
        "`monitor` is not built yet: Live view of a node's frames and console comes with issue 3"
    )
