"""The command line: `anjungan readings`, errors as one plain line, --help on every command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gateway import config
from gateway.cli import cli, main
from gateway.store import Store
from tests.gateway.helpers import reading

REPO = Path(__file__).resolve().parents[2]
AT = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FIELDS = ["node", "boot", "seq", "name", "value", "received_at"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def filled(cfg: config.Config) -> config.Config:
    with Store.open(cfg.store_path) as store:
        writer = store.writer()
        writer.write([reading("dmk-wl-01", 2, 7, water_cm=131.5)], at=AT)
        writer.write([reading("dmk-wx-01", 1, 0, rain_mm=0.25)], at=AT + 60_500)
    return cfg


def test_readings_jsonl(filled: config.Config, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--config", str(config_file), "readings")
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [
        {"node": "dmk-wl-01", "boot": 2, "seq": 7, "name": "water_cm", "value": 131.5,
         "received_at": "2026-01-01T00:00:00Z"},
        {"node": "dmk-wx-01", "boot": 1, "seq": 0, "name": "rain_mm", "value": 0.25,
         "received_at": "2026-01-01T00:01:00.500Z"},
    ]  # fmt: skip
    assert all(list(row) == FIELDS for row in rows)


def test_readings_csv(filled: config.Config, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--config", str(config_file), "readings", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == FIELDS
    assert [(r["node"], r["seq"], r["value"]) for r in rows] == [
        ("dmk-wl-01", "7", "131.5"),
        ("dmk-wx-01", "0", "0.25"),
    ]


def test_readings_node_and_since(
    filled: config.Config, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "--config", str(config_file), "readings", "--node", "dmk-wx-01")
    assert [json.loads(line)["node"] for line in out.splitlines()] == ["dmk-wx-01"]
    _, out, _ = _run(capsys, "--config", str(config_file), "readings", "--since", "2026-01-01T00:00:30Z")
    assert [json.loads(line)["node"] for line in out.splitlines()] == ["dmk-wx-01"]
    _, out, _ = _run(capsys, "--config", str(config_file), "readings", "--since", "2026-01-01T07:00:30+07:00")
    assert [json.loads(line)["node"] for line in out.splitlines()] == ["dmk-wx-01"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["readings", "--since", "yesterday"], "--since"),
        (["readings", "--format", "xml"], "xml"),
        (["readings"], "no store"),
    ],
)
def test_errors_are_one_plain_line(
    config_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, out, err = _run(capsys, "--config", str(config_file), *args)
    assert code in (1, 2)  # 2 is click's usage error
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert says in err
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("anjungan: ")


def test_readings_of_an_unknown_node_say_so_and_list_the_known_ones(
    filled: config.Config, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--config", str(config_file), "readings", "--node", "dmk-xx-99")
    assert (code, out) == (1, "")
    assert (
        err.strip() == "anjungan: no node 'dmk-xx-99' is known to this gateway (known: dmk-wl-01, dmk-wx-01)"
    )


def test_config_error_is_one_line_from_the_real_entry_point(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway]\ncolour = 'red'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(bad), "readings"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"anjungan: {bad}: unknown key gateway.colour\n"


def _walk(command: click.Command, path: list[str], ctx: click.Context) -> list[list[str]]:
    found = [path]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path + [name])} is listed but cannot be loaded"
            found += _walk(sub, path + [name], click.Context(sub, parent=ctx, info_name=name))
    return found


def test_help_on_every_command_and_subcommand() -> None:
    paths = _walk(cli, [], click.Context(cli, info_name="anjungan"))
    names = {" ".join(p) for p in paths}
    assert {
        "readings",
        "init",
        "node",
        "node simulate",
        "kiosk",
        "sync",
        "central",
    } <= names  # entry points too
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output, path
