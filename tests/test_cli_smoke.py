"""The command line as a user meets it: the root, help everywhere, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gateway.frame import parse_line, reading_line
from gateway.store import Store


def anjungan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_init_then_readings_round_trip(tmp_path: Path) -> None:
    result = anjungan("--config", str(tmp_path / "k.toml"), "init", "--gateway-id", "dmk-test", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "k.toml").read_text().startswith("# anjungan configuration")
    store = Store.open(tmp_path / "data" / "anjungan.db")
    with store, store.writer() as writer:
        writer.write([parse_line(reading_line("dmk-wl-01", 3, 7, {"water_cm": 131.5}))])
    result = anjungan("--config", str(tmp_path / "k.toml"), "readings", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["node"] == "dmk-wl-01" and rows[0]["boot"] == 3 and rows[0]["seq"] == 7
    assert rows[0]["value"] == 131.5 and rows[0]["received_at"].endswith("Z")


def test_user_mistake_is_one_plain_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway]\ncolour = 'red'\n")
    result = anjungan("--config", str(bad), "readings")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "gateway.colour" in result.stderr and "Traceback" not in result.stderr


def test_the_cli_reference_in_the_docs_is_current() -> None:
    """docs/cli.md is made from every command's --help: run scripts/update-docs.py after changing a command.

    Checked in a fresh interpreter: click caches a command's help option on the command object, so commands
    that other tests invoked on their own would print their help differently in this process.
    """
    repo = Path(__file__).resolve().parents[1]
    check = subprocess.run([sys.executable, str(repo / "scripts" / "update-docs.py"), "--check"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stderr
    reference = (repo / "docs" / "cli.md").read_text()
    for command in ("anjungan sync now", "anjungan central serve", "anjungan node flash", "anjungan kiosk"):
        assert f"## `{command}`" in reference, command
