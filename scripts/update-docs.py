"""Rewrite the generated parts of docs/: the settings tables of docs/configuration.md (the gateway's, from
gateway/config.py) and docs/central.md (the central's, from sync/central/settings.py), docs/sms.md (the SMS side's, from
sync/central/sms/settings.py), and the whole of
docs/cli.md (from every command's ``--help``). Tests fail when any is stale."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.cli import cli  # noqa: E402
from gateway.config import settings_markdown  # noqa: E402
from sync.central.settings import settings_markdown as central_settings_markdown  # noqa: E402
from sync.central.sms.settings import settings_markdown as sms_settings_markdown  # noqa: E402

BEGIN = "<!-- settings:begin (made by scripts/update-docs.py from gateway/config.py) -->"
END = "<!-- settings:end -->"


def generated_configuration(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{BEGIN}\n{settings_markdown()}{END}", text)


CENTRAL_BEGIN = (
    "<!-- central-settings:begin (made by scripts/update-docs.py from sync/central/settings.py) -->"
)
CENTRAL_END = "<!-- central-settings:end -->"


def generated_central(text: str) -> str:
    pattern = re.compile(re.escape(CENTRAL_BEGIN) + r".*?" + re.escape(CENTRAL_END), re.S)
    return pattern.sub(lambda _: f"{CENTRAL_BEGIN}\n{central_settings_markdown()}{CENTRAL_END}", text)


SMS_BEGIN = "<!-- sms-settings:begin (made by scripts/update-docs.py from sync/central/sms/settings.py) -->"
SMS_END = "<!-- sms-settings:end -->"


def generated_sms(text: str) -> str:
    pattern = re.compile(re.escape(SMS_BEGIN) + r".*?" + re.escape(SMS_END), re.S)
    return pattern.sub(lambda _: f"{SMS_BEGIN}\n{sms_settings_markdown()}{SMS_END}", text)


CLI_HEAD = """# The command line

Made by `scripts/update-docs.py` from the commands' own `--help` (a test fails when it is stale): do not edit
by hand. Every command prints its errors as one plain line (`anjungan: ...`) and exits 1.
"""


def _commands(command: click.Command, ctx: click.Context) -> Iterator[tuple[click.Context, click.Command]]:
    yield ctx, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, click.Context(sub, info_name=name, parent=ctx))


def generated_cli() -> str:
    """docs/cli.md: a section per command, with its help as the terminal shows it at 100 columns."""
    root = click.Context(cli, info_name="anjungan", terminal_width=100, max_content_width=100,
                         help_option_names=["-h", "--help"])  # fmt: skip
    parts = [CLI_HEAD]
    for ctx, command in _commands(cli, root):
        parts.append(f"\n## `{ctx.command_path}`\n\n```\n{command.get_help(ctx).rstrip()}\n```\n")
    return "".join(parts)


def main() -> None:
    """Rewrite the generated docs; with ``--check``, only say which are stale (exit 1 if any)."""
    configuration, central = REPO / "docs" / "configuration.md", REPO / "docs" / "central.md"
    sms = REPO / "docs" / "sms.md"
    wanted = {
        configuration: generated_configuration(configuration.read_text()),
        central: generated_central(central.read_text()),
        sms: generated_sms(sms.read_text()),
        REPO / "docs" / "cli.md": generated_cli(),
    }
    if "--check" in sys.argv[1:]:
        stale = [str(path.relative_to(REPO)) for path, text in wanted.items() if path.read_text() != text]
        if stale:
            sys.exit(f"stale: {', '.join(stale)} (run: .venv/bin/python scripts/update-docs.py)")
        return
    for path, text in wanted.items():
        path.write_text(text)


if __name__ == "__main__":
    main()
