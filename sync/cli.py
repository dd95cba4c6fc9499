"""Uplink and downlink with the central — not built yet (issue 5)."""

import click

from gateway.errors import NotYetAvailable


@click.command("sync", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def sync_group() -> None:
    """Uplink and downlink with the central (not built yet)."""
    raise NotYetAvailable("`sync` is not built yet: Uplink and downlink with the central comes with issue 5")
