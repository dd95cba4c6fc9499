"""Rewrite the generated parts of docs/: the settings tables of docs/configuration.md and docs/cli.md."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.config import settings_markdown  # noqa: E402

BEGIN = "<!-- settings:begin (made by scripts/update-docs.py from gateway/config.py) -->"
END = "<!-- settings:end -->"


def generated_configuration(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{BEGIN}\n{settings_markdown()}{END}", text)


def main() -> None:
    path = REPO / "docs" / "configuration.md"
    path.write_text(generated_configuration(path.read_text()))


if __name__ == "__main__":
    main()
