"""The central receiver — not built yet (issue 5)."""

import click

from gateway.errors import NotYetAvailable


@click.command("central", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def central_group() -> None:
    """The central receiver (not built yet)."""
    raise NotYetAvailable("`central` is not built yet: The central receiver comes with issue 5")
