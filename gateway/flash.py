"""Flashing a node with mpremote — not built yet (issue 3)."""

import click

from gateway.errors import NotYetAvailable


@click.command("flash", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def flash_command() -> None:
    """Flashing a node with mpremote (not built yet)."""
    raise NotYetAvailable("`flash` is not built yet: Flashing a node with mpremote comes with issue 3")
