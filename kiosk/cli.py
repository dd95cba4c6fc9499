"""The citizen kiosk web app — not built yet (issue 4)."""

import click

from gateway.errors import NotYetAvailable


@click.command("kiosk", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def kiosk_command() -> None:
    """The citizen kiosk web app (not built yet)."""
    raise NotYetAvailable("`kiosk` is not built yet: The citizen kiosk web app comes with issue 4")
