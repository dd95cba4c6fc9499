"""The fleet's settings: every one documented in docs/central.md, read from the central's namespace (which
the central's own settings check then accepts), a wrong type named in one line; the CLI commands work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gateway.errors import ConfigError
from sync.central.cli import central_group
from sync.central.fleet.settings import FleetSettings, env_names
from sync.central.fleet.tables import places, series
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
    run("add-user", "tek", "--role", "teknisi")
    assert run("add-opd", "bpbd", "BPBD Kabupaten Demak") == "bpbd: BPBD Kabupaten Demak\n"
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


def test_a_producer_is_a_known_opd_and_the_actor_a_known_officer(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(central_group, ["--db", db, *args])
        return result.exit_code, result.output

    gateway = json.loads(run("add-gateway", "dmk-wonosalam")[1])["gateway_id"]
    run("add-user", "tek", "--role", "teknisi")
    run("add-opd", "dispu", "Dinas Pekerjaan Umum")
    run("add-opd", "bpbd", "BPBD Kabupaten Demak")
    for command in (("fleet", "node", gateway, "dmk-wl-01"), ("set-place", gateway, "--node", "dmk-wl-01")):
        code, out = run(*command, "--producer", "BPBD Demak", "--by", "tek")
        assert code == 1
        assert out.strip() == "Error: unknown OPD 'BPBD Demak'; known OPDs: bpbd, dispu"
    code, out = run("fleet", "node", gateway, "dmk-wl-01", "--producer", "bpbd", "--by", "someone")
    assert code == 1 and "--by 'someone' is not an active officer's account" in out
    code, out = run("set-place", gateway, "--region-code", "33.21.08", "--by", "someone")
    assert code == 1 and "--by 'someone' is not an active officer's account" in out
    assert run("set-place", gateway, "--node", "dmk-wl-01", "--producer", "dispu", "--by", "TEK")[0] == 0
    assert run("fleet", "node", gateway, "dmk-wx-01", "--producer", "bpbd", "--by", "tek")[0] == 0
    from sync.central.app import open_central
    from sync.central.opendata import satudata

    engine = open_central(db).engine
    with (
        engine.connect() as conn
    ):  # one producer per node, whichever command set it: the OPD's name published
        lookup = satudata.place_lookup(conn, "Diskominfo")
        assert lookup(gateway, "dmk-wl-01").producer == "Dinas Pekerjaan Umum"
        assert lookup(gateway, "dmk-wx-01").producer == "BPBD Kabupaten Demak"
        assert lookup(gateway, "dmk-pw-01").producer == "Diskominfo"
    engine.dispose()


def test_publish_ckan_takes_its_portal_from_options_or_the_environment(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    runner = CliRunner()
    usage = runner.invoke(central_group, ["--db", db, "publish-ckan", "--help"]).output
    assert "[required]" not in usage and "ANJUNGAN_CENTRAL_SERVER_CKAN_API_KEY" in usage
    missing = runner.invoke(central_group, ["--db", db, "publish-ckan", "--url", "http://127.0.0.1:9"],
                            env={"ANJUNGAN_CENTRAL_SERVER_CKAN_RESOURCE_ID": "r1"})  # fmt: skip
    assert missing.exit_code == 2
    assert "missing: --api-key or ANJUNGAN_CENTRAL_SERVER_CKAN_API_KEY" in missing.output
    assert "resource" not in missing.output.split("Error:")[1]


def test_an_unknown_kiosk_is_refused_a_node_placed_in_advance_says_so_and_can_be_forgotten(
    tmp_path: Path,
) -> None:
    """The kiosk must be registered (one line saying how to list them); a node not yet heard of may be placed
    before its first report, which the output says, and forgotten again (audited); one with readings may not;
    an empty --producer is refused rather than clearing the producer silently."""
    db = f"sqlite:///{tmp_path / 'central.db'}"
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(central_group, ["--db", db, *args])
        return result.exit_code, result.output

    gateway = json.loads(run("add-gateway", "dmk-wonosalam")[1])["gateway_id"]
    run("add-user", "tek", "--role", "teknisi")
    run("add-opd", "bpbd", "BPBD Kabupaten Demak")
    for command in (("fleet", "place", "dmk-nosuch", "--label", "x"), ("fleet", "node", "dmk-nosuch", "dmk-wl-01",
                    "--interval", "30"), ("set-place", "dmk-nosuch", "--node", "dmk-wl-01", "--region-code", "33"),
                    ("fleet", "forget-node", "dmk-nosuch", "dmk-wl-01")):  # fmt: skip
        code, out = run(*command, "--by", "tek")
        assert code == 1, command
        assert out.strip() == ("Error: no kiosk 'dmk-nosuch' is registered at the central; list the known ones "
                               "with: anjungan central list-gateways")  # fmt: skip
    code, out = run("list-gateways")
    assert code == 0 and [json.loads(line)["gateway_id"] for line in out.splitlines()] == [gateway]
    code, out = run("fleet", "place", gateway, "--node", "dmk-wl-09", "--label", "Jembatan", "--by", "tek")
    assert code == 0 and "node dmk-wl-09 has not reported yet; placed in advance" in out
    assert f"anjungan central fleet forget-node {gateway} dmk-wl-09 --by OFFICER" in out
    code, out = run("fleet", "place", gateway, "--label", "Balai Desa", "--by", "tek")
    assert code == 0 and "placed in advance" not in out  # the kiosk itself
    code, out = run("fleet", "node", gateway, "dmk-wl-09", "--producer", "bpbd", "--by", "tek")
    assert code == 0 and "has not reported yet" in out
    for command in (("fleet", "node", gateway, "dmk-wl-09"), ("set-place", gateway, "--node", "dmk-wl-09")):
        code, out = run(*command, "--producer", "", "--by", "tek")
        assert (
            code == 2 and "--producer needs an OPD code; to remove the producer, give --clear-producer" in out
        )
    from sync.central.app import open_central
    from sync.central.backoffice.audit import entries
    from sync.central.fleet.tables import nodes

    engine = open_central(db).engine
    with engine.connect() as conn:  # the refused empty value left the producer as it was
        assert conn.execute(sa.select(nodes.c.producer).where(nodes.c.node == "dmk-wl-09")).scalar() == "bpbd"
    code, out = run("fleet", "node", gateway, "dmk-wl-09", "--clear-producer", "--by", "tek")
    assert code == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(nodes.c.producer).where(nodes.c.node == "dmk-wl-09")).scalar() is None
    code, out = run("fleet", "forget-node", gateway, "dmk-wl-09", "--by", "tek")
    assert code == 0 and out.strip() == f"{gateway}/dmk-wl-09 forgotten (place, node removed)"
    code, out = run("fleet", "forget-node", gateway, "dmk-wl-09", "--by", "tek")
    assert code == 1 and f"nothing is set for node 'dmk-wl-09' at {gateway}" in out
    forgotten, count = entries(engine, action="fleet-forget-node")
    assert (
        count == 1 and forgotten[0]["username"] == "tek" and '"label": "Jembatan"' in forgotten[0]["before"]
    )
    with engine.begin() as conn:  # a node with readings (its series) is not forgotten
        conn.execute(series.insert().values(gateway_id=gateway, node="dmk-wl-01", name="water_cm", first_ms=1,
                                            last_ms=2, last_value=3.0))  # fmt: skip
    run("fleet", "place", gateway, "--node", "dmk-wl-01", "--label", "Sungai", "--by", "tek")
    code, out = run("fleet", "forget-node", gateway, "dmk-wl-01", "--by", "tek")
    assert code == 1 and "has reported or has readings" in out
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(places.c.label).where(places.c.node == "dmk-wl-01")).scalar() == "Sungai"
        )
    engine.dispose()
