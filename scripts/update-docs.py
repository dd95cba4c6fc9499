"""Rewrite the generated parts of docs/: the settings tables of docs/configuration.md (the gateway's) and
docs/central.md (the central's)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.config import settings_markdown  # noqa: E402
from sync.central.settings import settings_markdown as central_settings_markdown  # noqa: E402

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


def main() -> None:
    path = REPO / "docs" / "configuration.md"
    path.write_text(generated_configuration(path.read_text()))
    path = REPO / "docs" / "central.md"
    path.write_text(generated_central(path.read_text()))


if __name__ == "__main__":
    main()
