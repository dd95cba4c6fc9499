"""Node health list — not built yet (issue 3)."""

import click

from gateway.errors import NotYetAvailable


@click.command("list", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def node_list_command() -> None:
    """Node health list (not built yet)."""
    raise NotYetAvailable("`list` is not built yet: Node health list comes with issue 3")
