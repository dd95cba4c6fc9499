"""Simulated sensor board on a pseudo-terminal — not built yet (issue 3)."""

import click

from gateway.errors import NotYetAvailable


@click.command("simulate", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def simulate_command() -> None:
    """Simulated sensor board on a pseudo-terminal (not built yet)."""
    raise NotYetAvailable(
        "`simulate` is not built yet: Simulated sensor board on a pseudo-terminal comes with issue 3"
    )
