"""``node flash`` end to end against a simulated board, with the real mpremote transport."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import portlock
from gateway.errors import AnjunganError
from gateway.flash import flash_command

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


@pytest.fixture
def config_env(tmp_path: Path) -> dict[str, str]:
    toml = tmp_path / "anjungan.toml"
    toml.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    return {"ANJUNGAN_CONFIG": str(toml)}


def test_flash_a_blank_board_then_skip_unchanged_files(start_board, config_env):
    board = start_board("sim-blank", "--blank")
    assert list(board.fs.iterdir()) == []
    args = ["--port", str(board.link), "--node-id", "dmk-pw-01", "--kind", "power", "--interval", "1"]
    runner = CliRunner()
    first = runner.invoke(flash_command, args, env=config_env)
    assert first.exit_code == 0, first.output + repr(first.exception)
    n_files = len(list(FIRMWARE.glob("*.py"))) + 1
    assert f"copied {n_files} files, skipped 0 unchanged" in first.output
    assert "dmk-pw-01 is alive: boot 1, firmware 0.1.0" in first.output
    for source in FIRMWARE.glob("*.py"):
        assert (board.fs / source.name).read_bytes() == source.read_bytes()
    config = json.loads((board.fs / "config.json").read_text())
    assert config == {"node_id": "dmk-pw-01", "kind": "power", "interval_s": 1.0, "transport": "serial"}
    assert not list(board.fs.glob("*.tmp"))

    second = runner.invoke(flash_command, args, env=config_env)
    assert second.exit_code == 0, second.output
    assert f"copied 0 files, skipped {n_files} unchanged" in second.output
    assert "boot 2" in second.output

    (board.fs / "rain.py").write_text("# damaged\n")
    third = runner.invoke(flash_command, args, env=config_env)
    assert f"copied 1 file, skipped {n_files - 1} unchanged" in third.output
    assert (board.fs / "rain.py").read_bytes() == (FIRMWARE / "rain.py").read_bytes()
    data_dir = Path(config_env["ANJUNGAN_CONFIG"]).parent / "data"
    assert not portlock.is_claimed(data_dir, str(board.link))  # the port was handed back to the ingest
    assert not list((data_dir / "run" / "release").glob("*"))


def test_flash_errors_are_plain(config_env, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        flash_command,
        ["--port", str(tmp_path / "nothing"), "--node-id", "n1", "--kind", "weather"],
        env=config_env,
    )
    assert result.exit_code == 1 and isinstance(result.exception, AnjunganError)
    assert str(result.exception).startswith(f"no device {tmp_path / 'nothing'}")  # as `node monitor` says it
    existing = tmp_path / "not-a-board"
    existing.write_text("")
    silent = runner.invoke(flash_command, ["--port", str(existing), "--node-id", "n1", "--kind", "weather"],
                           env=config_env)  # fmt: skip
    assert "no MicroPython board answers" in str(silent.exception)
    bad = runner.invoke(
        flash_command, ["--port", "x", "--node-id", "Bad", "--kind", "weather"], env=config_env
    )
    assert isinstance(bad.exception, AnjunganError) and "node id" in str(bad.exception)


def test_a_replacement_board_boots_above_the_boots_the_store_knows(start_board, config_env):
    """Issue 8: a blank board flashed with a known node id must not reuse (node, boot, q) keys."""
    from gateway.config import load
    from gateway.frame import Frame
    from gateway.store import Store

    cfg = load(Path(config_env["ANJUNGAN_CONFIG"]))
    store = Store.open(cfg.store_path)
    assert (
        store.writer().submit([Frame("r", "dmk-wl-09", 7, 3, {"level_cm": 120.0}, {})]).result(timeout=30)
        == 1
    )
    store.close()
    board = start_board("sim-replacement", "--blank")
    args = ["--port", str(board.link), "--node-id", "dmk-wl-09", "--kind", "water-level", "--interval", "1"]
    result = CliRunner().invoke(flash_command, args, env=config_env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "boot counter set above boot 7" in result.output
    assert "dmk-wl-09 is alive: boot 8," in result.output
    # the hello the flash tool read after the reset is stored, as the ingest would have stored it
    with Store.open_existing(cfg.store_path) as store:
        (node,) = [n for n in store.nodes() if n["node"] == "dmk-wl-09"]
    assert (node["boot"], node["fw"]) == (8, "0.1.0")


def test_an_mqtt_node_without_a_broker_account_or_wifi_is_warned_about(config_env, tmp_path):
    args = ["--port", str(tmp_path / "nothing"), "--node-id", "dmk-wl-05", "--kind", "water-level",
            "--mqtt-host", "192.168.1.10"]  # fmt: skip
    result = CliRunner().invoke(flash_command, args, env=config_env)
    assert (
        "warning: no --mqtt-user/--mqtt-password: the gateway's broker takes no anonymous clients"
        in result.output
    )
    assert "mqtt-node-credential.sh dmk-wl-05" in result.output
    assert "warning: no --wifi-ssid" in result.output
    full = [*args, "--mqtt-user", "dmk-wl-05", "--mqtt-password", "s3cret", "--wifi-ssid", "KANTOR"]
    assert "warning" not in CliRunner().invoke(flash_command, full, env=config_env).output
