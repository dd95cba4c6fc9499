"""The fleet's settings: every one documented in docs/central.md, read from the central's namespace (which
the central's own settings check then accepts), a wrong type named in one line; the CLI commands work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.errors import ConfigError
from sync.central.cli import central_group
from sync.central.fleet.settings import FleetSettings, env_names
from sync.central.settings import CentralSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "central.md"


def test_every_fleet_setting_is_documented() -> None:
    text = DOCS.read_text()
    assert [name for name in env_names() if f"`{name}`" not in text] == []


def test_fleet_settings_from_the_environment() -> None:
    env = {"ANJUNGAN_CENTRAL_SERVER_QUIET_S": "120", "ANJUNGAN_CENTRAL_SERVER_MAIL_TO": "a@b.id",
           "ANJUNGAN_CENTRAL_SERVER_SILENT_FACTOR": "2.5"}  # fmt: skip
    cfg = FleetSettings.from_env(env)
    assert (cfg.quiet_s, cfg.mail_to, cfg.silent_factor) == (120, "a@b.id", 2.5)
    CentralSettings.from_env(env)  # the central's own check accepts them
    with pytest.raises(ConfigError, match="ANJUNGAN_CENTRAL_SERVER_QUIET_S: expected int"):
        FleetSettings.from_env({"ANJUNGAN_CENTRAL_SERVER_QUIET_S": "soon"})


def test_the_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(central_group, ["--db", db, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    gateway = json.loads(run("add-gateway", "dmk-wonosalam"))["gateway_id"]
    assert "Balai Desa" in run("fleet", "place", gateway, "--label", "Balai Desa", "--lat", "-6.9", "--lon", "110.6",
                               "--by", "tek")  # fmt: skip
    run("fleet", "node", gateway, "dmk-wl-01", "--producer", "bpbd", "--interval", "30", "--by", "tek")
    assert run("alerts", "run") == "opened 0, resolved 0, notifications 0 sent, 0 failed\n"
    assert run("alerts", "list") == ""
    assert run("fleet", "rollup") == "rolled up 0 readings' seqs\n"
    assert run("fleet", "completeness") == ""
    bad = runner.invoke(central_group, ["--db", db, "fleet", "place", gateway, "--label", "x", "--lat", "99",
                               "--lon", "0", "--by", "tek"])  # fmt: skip
    assert bad.exit_code == 1 and "coordinates out of range" in bad.output
    missing = runner.invoke(central_group, ["--db", db, "alerts", "ack", "7", "--by", "tek"])
    assert missing.exit_code == 1 and "no such alert" in missing.output
