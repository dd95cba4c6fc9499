"""Configuration: the contract's keys, environment overrides, errors that name the key, and the docs."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path

import pytest

from gateway import config
from gateway.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

CONTRACT_TOML = """
[gateway]
id = "dmk-wonosalam"
name = "Kecamatan Wonosalam"
data_dir = "./data"
[central]
url = "http://127.0.0.1:8600"
gateway_id = ""
secret = ""
[[serial]]
port = "/dev/ttyACM0"
baud = 115200
[[serial]]
port = "/dev/ttyUSB1"
baud = 9600
[mqtt]
host = "127.0.0.1"
port = 1883
[kiosk]
host = "127.0.0.1"
port = 8080
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "anjungan.toml"
    path.write_text(text)
    return path


def test_contract_keys_load(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, CONTRACT_TOML), env={})
    assert cfg.gateway.id == "dmk-wonosalam"
    assert cfg.gateway.name == "Kecamatan Wonosalam"
    assert cfg.central.url == "http://127.0.0.1:8600"
    assert [(s.port, s.baud) for s in cfg.serial] == [("/dev/ttyACM0", 115200), ("/dev/ttyUSB1", 9600)]
    assert (cfg.mqtt.host, cfg.mqtt.port) == ("127.0.0.1", 1883)
    assert (cfg.kiosk.host, cfg.kiosk.port) == ("127.0.0.1", 8080)
    assert cfg.data_dir == tmp_path / "data"  # relative to the file
    assert cfg.store_path == tmp_path / "data" / "anjungan.db"


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config.load(env={})
    assert cfg.path is None
    assert cfg.serial == ()
    assert cfg.gateway.store_budget_mb == 1024


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "nope.toml", env={})


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "ANJUNGAN_CENTRAL_URL": "https://satudata.example.go.id",
        "ANJUNGAN_KIOSK_PORT": "9090",
        "ANJUNGAN_GATEWAY_ID": "desa-sukamaju",
        "ANJUNGAN_MQTT_HOST": "",
    }
    cfg = config.load(_write(tmp_path, CONTRACT_TOML), env=env)
    assert cfg.central.url == "https://satudata.example.go.id"
    assert cfg.kiosk.port == 9090
    assert cfg.gateway.id == "desa-sukamaju"
    assert cfg.mqtt.host == ""


@pytest.mark.parametrize("order", ["port-first", "baud-first"])
def test_serial_port_list_from_environment(tmp_path: Path, order: str) -> None:
    items = [("ANJUNGAN_SERIAL_PORT", "/dev/ttyACM0, /dev/ttyACM1"), ("ANJUNGAN_SERIAL_BAUD", "57600")]
    env = dict(items if order == "port-first" else reversed(items))
    cfg = config.load(_write(tmp_path, CONTRACT_TOML), env=env)
    assert [(s.port, s.baud) for s in cfg.serial] == [("/dev/ttyACM0", 57600), ("/dev/ttyACM1", 57600)]


def test_empty_serial_port_variable_means_no_ports(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, CONTRACT_TOML), env={"ANJUNGAN_SERIAL_PORT": ""})
    assert cfg.serial == ()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[gateway]\ncolour = 'red'\n", "gateway.colour"),
        ("[printer]\nport = 1\n", "[printer]"),
        ("[[serial]]\nport = '/dev/x'\nspeed = 9600\n", "serial.speed"),
    ],
)
def test_unknown_keys_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        config.load(_write(tmp_path, text), env={})


def test_unknown_environment_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ANJUNGAN_KIOSK_COLOUR"):
        config.load(_write(tmp_path, ""), env={"ANJUNGAN_KIOSK_COLOUR": "red"})


def test_other_anjungan_variables_are_not_settings(tmp_path: Path) -> None:
    config.load(_write(tmp_path, ""), env={"ANJUNGAN_CENTRAL_DB": "sqlite://", "ANJUNGAN_TEST_NO_ROOT": "1"})


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("[kiosk]\nport = 'eighty'\n", {}, "kiosk.port"),
        ("[kiosk]\nport = true\n", {}, "kiosk.port"),
        ("[gateway]\nname = 5\n", {}, "gateway.name"),
        ("[[serial]]\nport = '/dev/x'\nbaud = 1.5\n", {}, "serial.baud"),
        ("", {"ANJUNGAN_MQTT_PORT": "x"}, "ANJUNGAN_MQTT_PORT"),
        ("gateway = 3\n", {}, "[gateway]"),
        ("[serial]\nport = '/dev/x'\n", {}, "[[serial]]"),
        ("[gateway]\nid = 'Not Lower'\n", {}, "gateway.id"),
        ("[gateway\n", {}, "not valid TOML"),
    ],
)
def test_bad_values_are_errors(tmp_path: Path, text: str, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        config.load(_write(tmp_path, text), env=env)


def test_commented_file_loads_back_with_every_setting(tmp_path: Path) -> None:
    text = config.commented_toml({"gateway": {"id": "desa-x", "data_dir": "/srv/anjungan"}})
    path = _write(tmp_path, text)
    cfg = config.load(path, env={})
    assert cfg.gateway.id == "desa-x"
    assert cfg.gateway.data_dir == "/srv/anjungan"
    for setting in config.SETTINGS:
        assert f"{setting.key} = " in text, setting
        assert setting.help in text
    assert tomllib.loads(text)["gateway"]["id"] == "desa-x"


def test_anjungan_init_writes_a_commented_file_that_loads_back(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gateway.cli import cli

    path = tmp_path / "conf" / "anjungan.toml"
    result = CliRunner().invoke(
        cli, ["--config", str(path), "init", "--gateway-id", "desa-y", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    assert path.read_text().startswith("# anjungan configuration")
    cfg = config.load(path, env={})
    assert cfg.gateway.id == "desa-y"
    # frames are gathered for a minute (the journal keeps the serial ones safe from a crash of the ingest)
    assert cfg.gateway.commit_interval_s == 120 == config._BY_NAME[("gateway", "commit_interval_s")].default
    assert cfg.gateway.journal_dir == ""
    assert cfg.store_path.exists()
    again = CliRunner().invoke(cli, ["--config", str(path), "init"])
    assert again.exit_code == 0 and "keeping it" in again.output


def test_the_typed_sections_agree_with_the_settings_table() -> None:
    assert config.section_mismatches() == []
    assert [f.name for f in dataclasses.fields(config.KioskSection)] == [
        s.key for s in config.settings_of("kiosk")
    ]


def test_the_configuration_is_typed_and_read_only(tmp_path: Path) -> None:
    text = CONTRACT_TOML + 'water_alert_cm = 120\nnode_labels = { "dmk-wl-01" = "Jembatan" }\n'
    cfg = config.load(_write(tmp_path, text), env={"ANJUNGAN_SYNC_BATCH_MAX": "500"})
    assert isinstance(cfg.kiosk, config.KioskSection) and isinstance(cfg.serial[0], config.SerialSection)
    assert cfg.kiosk.water_alert_cm == 120.0 and isinstance(cfg.kiosk.water_alert_cm, float)
    assert cfg.sync.batch_max == 500
    assert dict(cfg.kiosk.node_labels) == {"dmk-wl-01": "Jembatan"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.kiosk.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.kiosk.node_labels["dmk-wl-02"] = "Sawah"  # type: ignore[index]
    assert cfg.as_dict()["kiosk"]["node_labels"] == {"dmk-wl-01": "Jembatan"}
    assert cfg.as_dict()["serial"] == [
        {"port": "/dev/ttyACM0", "baud": 115200},
        {"port": "/dev/ttyUSB1", "baud": 9600},
    ]
    # secrets stay out of a logged or printed configuration
    shown = repr(config.load(_write(tmp_path, '[central]\nsecret = "s3cr3t-value"\n'), env={}))
    assert "s3cr3t-value" not in shown and "gateway_id=" in shown


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    missing = []
    for setting in config.SETTINGS:
        section = (
            f"[[{setting.section}]]" if setting.section in config.LIST_SECTIONS else f"[{setting.section}]"
        )
        row = next(
            (line for line in doc.splitlines() if f"`{setting.key}`" in line and setting.env_name in line),
            None,
        )
        if row is None or section not in doc or config._toml_value(setting.default) not in row:
            missing.append(f"{setting.section}.{setting.key}")
    assert not missing, (
        f"settings not documented (with default and env name) in docs/configuration.md: {missing}"
    )


def test_settings_tables_in_the_docs_are_current() -> None:
    """docs/configuration.md's tables are made from config.SETTINGS: run scripts/update-docs.py after a change."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_docs", REPO / "scripts" / "update-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (REPO / "docs" / "configuration.md").read_text()
    assert module.BEGIN in doc and module.END in doc
    assert module.generated_configuration(doc) == doc, "run: .venv/bin/python scripts/update-docs.py"


def test_the_sync_bounds_follow_the_sync_units_watchdog() -> None:
    """[sync] settings are bounded against the sync service's WatchdogSec (gateway/config.py): one number, kept
    in two places, must agree."""
    unit = (REPO / "hardware" / "systemd" / "anjungan-sync.service").read_text()
    assert f"\nWatchdogSec={config.SYNC_WATCHDOG_S}\n" in unit


def test_a_setting_without_its_field_is_named_in_words() -> None:
    """Adding a Setting to the table but not to its section class fails at import with the key's name."""
    table = [("port", int, 8080), ("timezone", str, "Asia/Jakarta")]
    assert "the table has timezone, which the section class lacks" in config._difference(table[:1], table)
    assert "the section class has timezone, which the table lacks" in config._difference(table, table[:1])
    assert "port: the class says int = 8081, the table int = 8080" in config._difference(
        [("port", int, 8081), table[1]], table
    )


def test_the_journal_folder_is_on_tmpfs_unless_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "anjungan.toml"
    path.write_text('[gateway]\ndata_dir = "data"\n')
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert config.load(path, env={}).journal_dir == runtime / "anjungan"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    assert config.load(path, env={}).journal_dir == Path("/dev/shm") / f"anjungan-{os.getuid()}"
    path.write_text('[gateway]\ndata_dir = "data"\njournal_dir = "run"\n')
    assert config.load(path, env={}).journal_dir == tmp_path / "run"
    assert config.load(path, env={"ANJUNGAN_GATEWAY_JOURNAL_DIR": "/run/anjungan"}).journal_dir == Path(
        "/run/anjungan"
    )
