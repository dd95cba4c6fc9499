"""hardware/install-pi.sh's steps, run for real by bash on folders in tmp_path (the script sourced: its
functions, nothing of main run), with the system's paths pointed there. The whole script in a Debian root is
tests/hardware/test_install.py; these are the upgrade's and the broker's cases a fresh install never meets:
a failed migration, the first release's layout, a release that failed before, a broker password that drifted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from gateway import config as config_mod

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "hardware" / "install-pi.sh"
CREDENTIAL = REPO / "hardware" / "mqtt-node-credential.sh"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _steps(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """``body`` run after sourcing install-pi.sh, its folders under tmp_path/root and systemd absent."""
    root = tmp_path / "root"
    script = f"""
source "{INSTALL}"
PREFIX="{root}/opt/anjungan"; CONF_DIR="{root}/etc/anjungan"; CONFIG="$CONF_DIR/gateway.toml"
DATA_DIR="{root}/var/lib/anjungan"; LOG="{tmp_path}/install.log"; SERVICE_USER=root
MQTT_PASSWD="{root}/etc/mosquitto/anjungan.passwd"
systemd_running() {{ return 1; }}
systemctl() {{ echo "systemctl $*" >>"{tmp_path}/systemctl.calls"; }}
{body}
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={"PATH": PATH, "LANG": "C.UTF-8"})  # fmt: skip


def _release(tmp_path: Path, name: str, upgrade_exit: int = 0) -> Path:
    """A release folder whose python is this checkout's and whose `anjungan upgrade` exits ``upgrade_exit``."""
    rel = tmp_path / "root" / "opt" / "anjungan" / "releases" / name
    (rel / "bin").mkdir(parents=True)
    (rel / "bin" / "python").symlink_to(sys.executable)
    anjungan = rel / "bin" / "anjungan"
    if upgrade_exit:
        anjungan.write_text(
            f'#!/bin/sh\necho "anjungan: migration 9999-x failed: boom" >&2\nexit {upgrade_exit}\n'
        )
    else:
        anjungan.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gateway "$@"\n')
    anjungan.chmod(0o755)
    (rel / ".complete").touch()
    return rel


def test_a_failed_migration_installs_no_unit_of_the_new_release(tmp_path: Path) -> None:
    """Before, the new units (Type=notify, WatchdogSec=60, /opt/anjungan/current/bin/anjungan) were installed
    before the migration: when it failed, the previous release ran under units that could not start it."""
    new = _release(tmp_path, "0.2.0-new", upgrade_exit=1)
    conf = tmp_path / "root" / "etc" / "anjungan"
    conf.mkdir(parents=True)
    (conf / "gateway.toml").write_text("")
    (tmp_path / "root" / "var" / "lib" / "anjungan").mkdir(parents=True)
    steps = ["packages", "users", "folders", "wrapper", "configuration", "previous_layout", "ingest_login",
             "mosquitto_setup", "system_files", "retire_units", "enable_units", "start_units",
             "check_identity", "check_wheelhouse", "check_mqtt_interface"]  # fmt: skip
    stubs = "\n".join(f'{name}() {{ echo "ran {name}" >>"{tmp_path}/steps"; }}' for name in steps)
    done = _steps(tmp_path, f'{stubs}\nrelease() {{ NEW_RELEASE="{new}"; }}\nmain\necho "not reached"')
    assert done.returncode == 1 and "not reached" not in done.stdout
    assert f"FAILED: the store could not be migrated to {new}" in done.stdout
    ran = (tmp_path / "steps").read_text().split()
    assert "system_files" not in ran and "enable_units" not in ran and "start_units" not in ran, ran
    assert "mosquitto_setup" in ran  # what came before the migration did run
    assert not (tmp_path / "root" / "opt" / "anjungan" / "current").exists()


def _first_release_layout(tmp_path: Path) -> tuple[Path, Path]:
    """The first release's layout: /etc/anjungan/gateway.toml with data_dir "./data", the store beside it."""
    conf = tmp_path / "root" / "etc" / "anjungan"
    conf.mkdir(parents=True, mode=0o700)
    config = conf / "gateway.toml"
    config.write_text(config_mod.commented_toml({"gateway": {"id": "dmk-lama"}}))
    assert 'data_dir = "./data"' in config.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
    made = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), "init"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    store = conf / "data" / "anjungan.db"
    assert store.exists()
    return config, store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_first_releases_layout_is_moved_into_place(tmp_path: Path) -> None:
    """Before, its data_dir "./data" stayed /etc/anjungan/data, which the new units may not write: "attempt to
    write a readonly database". The data folder moves to /var/lib/anjungan and data_dir follows it."""
    config, store = _first_release_layout(tmp_path)
    before = _digest(store)
    new = _release(tmp_path, "0.2.0-new")
    data = tmp_path / "root" / "var" / "lib" / "anjungan"
    done = _steps(tmp_path, f'NEW_RELEASE="{new}"\nfolders\nprevious_layout')
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"changed: moved the data folder {store.parent} to {data}" in done.stdout
    assert _digest(data / "anjungan.db") == before and not store.parent.exists()
    assert oct((data / "anjungan.db").stat().st_mode & 0o777) == "0o600"
    assert config_mod.load(config, env={}).data_dir == data
    assert config_mod.load(config, env={}).gateway.id == "dmk-lama"  # the rest of the configuration kept
    again = _steps(tmp_path, f'NEW_RELEASE="{new}"\nfolders\nprevious_layout')
    assert again.returncode == 0 and "changed:" not in again.stdout


def test_an_earlier_default_commit_interval_becomes_two_minutes_and_a_chosen_one_is_kept(
    tmp_path: Path,
) -> None:
    """An earlier release's init wrote ``commit_interval_s = 0.0``; with the ingest's journal gathering loses
    nothing, so the configuration is moved to 120 once. A value written another way is a technician's: kept."""
    config = tmp_path / "root" / "etc" / "anjungan" / "gateway.toml"
    config.parent.mkdir(parents=True)
    text = config_mod.commented_toml({"gateway": {"id": "dmk-lama", "data_dir": "/var/lib/anjungan"}})
    config.write_text(text.replace("commit_interval_s = 120.0", "commit_interval_s = 0.0"))
    done = _steps(tmp_path, "NEW_RELEASE=/nowhere\nconfiguration")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"changed: {config}: [gateway] commit_interval_s = 120.0" in done.stdout
    cfg = config_mod.load(config, env={})
    assert cfg.gateway.commit_interval_s == 120 and cfg.gateway.id == "dmk-lama"
    again = _steps(tmp_path, "NEW_RELEASE=/nowhere\nconfiguration")
    assert again.returncode == 0 and "changed:" not in again.stdout
    config.write_text(text.replace("commit_interval_s = 120.0", "commit_interval_s = 0"))
    chosen = _steps(tmp_path, "NEW_RELEASE=/nowhere\nconfiguration")
    assert chosen.returncode == 0 and "commit_interval_s" not in chosen.stdout
    assert config_mod.load(config, env={}).gateway.commit_interval_s == 0


def test_a_layout_it_cannot_move_safely_is_refused_before_anything_moves(tmp_path: Path) -> None:
    config, store = _first_release_layout(tmp_path)
    new = _release(tmp_path, "0.2.0-new")
    data = tmp_path / "root" / "var" / "lib" / "anjungan"
    data.mkdir(parents=True)
    (data / "anjungan.db").write_bytes(b"another store")
    both = _steps(tmp_path, f'NEW_RELEASE="{new}"\nprevious_layout')
    assert both.returncode == 1
    assert f"install-pi.sh: there is a data folder in {store.parent}" in both.stderr
    assert store.exists() and (data / "anjungan.db").read_bytes() == b"another store"
    config.write_text(config.read_text().replace('data_dir = "./data"', 'data_dir = "/srv/elsewhere"'))
    elsewhere = _steps(tmp_path, f'NEW_RELEASE="{new}"\nprevious_layout')
    assert elsewhere.returncode == 1
    assert f"{config} has data_dir = /srv/elsewhere, which the services may not write" in elsewhere.stderr


def test_units_no_longer_shipped_are_disabled_and_removed(tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / "anjungan-chromium.service").write_text("[Service]\nExecStart=/usr/bin/chromium\n")
    shutil.copy(REPO / "hardware" / "systemd" / "anjungan-screen.service", units)
    done = _steps(tmp_path, f'UNIT_DIR="{units}" retire_units')
    assert done.returncode == 0, done.stderr
    assert "changed: removed anjungan-chromium.service (no longer part of anjungan)" in done.stdout
    assert sorted(p.name for p in units.iterdir()) == ["anjungan-screen.service"]
    assert (tmp_path / "systemctl.calls").read_text() == "systemctl disable anjungan-chromium.service\n"


def test_pruning_keeps_the_release_that_ran_before(tmp_path: Path) -> None:
    """A (ran until now), B (built later, its migration failed, never ran), C (now running): before, the two
    most recently built were kept and A, the only known-good release to go back to, was removed."""
    releases = [_release(tmp_path, name) for name in ("0.1.0-a", "0.2.0-b", "0.3.0-c")]
    a, b, c = releases
    for age, rel in enumerate(releases):  # built in that order
        os.utime(rel, (1_700_000_000 + age, 1_700_000_000 + age))
    done = _steps(tmp_path, f'NEW_RELEASE="{c}"\nprune_releases "{a}"')
    assert done.returncode == 0, done.stderr
    assert a.exists() and c.exists() and not b.exists()
    assert "changed: removed old release 0.2.0-b" in done.stdout


def test_a_node_credential_never_takes_the_ingests_name() -> None:
    """Before, `mqtt-node-credential.sh anjungan-ingest` replaced the ingest's password (its mqtt.env kept the
    old one) and handed a node the account that reads every node's topic."""
    for name in ("anjungan-ingest", "anjungan-anything"):
        done = subprocess.run(["bash", str(CREDENTIAL), name], capture_output=True, text=True, timeout=30,
                              env={"PATH": PATH})  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert (
            f"{name} is not a node id: names starting with anjungan- are the gateway's own users"
            in done.stderr
        )


def _passwd(path: Path, user: str, password: str) -> None:
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    args = ["-b", str(path), user, password] if path.exists() else ["-c", "-b", str(path), user, password]
    subprocess.run([exe, *args], check=True, capture_output=True)


def test_a_drifted_ingest_password_is_made_anew(tmp_path: Path) -> None:
    """mqtt.env's password is checked against the broker's password file (Mosquitto's own hash); before, a
    second run said "unchanged" because the user existed, and the ingest could not log in."""
    from tests.fixtures.mosquitto import Broker

    root = tmp_path / "root"
    (root / "etc" / "mosquitto").mkdir(parents=True)
    (root / "etc" / "anjungan").mkdir(parents=True)
    passwd = root / "etc" / "mosquitto" / "anjungan.passwd"
    env_file = root / "etc" / "anjungan" / "mqtt.env"
    _passwd(passwd, "anjungan-ingest", "the-right-one")
    _passwd(passwd, "dmk-wl-01", "a-node")
    env_file.write_text("ANJUNGAN_MQTT_USERNAME=anjungan-ingest\nANJUNGAN_MQTT_PASSWORD=the-right-one\n")
    kept = _steps(tmp_path, "ingest_login")
    assert kept.returncode == 0 and env_file.exists(), kept.stderr

    _passwd(passwd, "anjungan-ingest", "replaced-by-hand")  # what the node credential script used to do
    drifted = _steps(tmp_path, "ingest_login")
    assert drifted.returncode == 0, drifted.stderr
    assert "is not the broker's: making a new one" in drifted.stdout and not env_file.exists()

    # the check agrees with a real Mosquitto on the same password file
    broker = Broker(tmp_path)
    broker.conf.write_text(f"listener {broker.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                           + ("user root\n" if os.geteuid() == 0 else ""))  # fmt: skip
    broker.start()
    try:
        for password, accepted in (("replaced-by-hand", True), ("the-right-one", False)):
            check = _steps(tmp_path, f'password_accepted "{passwd}" anjungan-ingest "{password}"')
            assert (check.returncode == 0) is accepted, password
            assert _broker_accepts(broker.port, "anjungan-ingest", password) is accepted, password
    finally:
        broker.stop()


def _broker_accepts(port: int, user: str, password: str) -> bool:
    import paho.mqtt.client as mqtt

    answered = threading.Event()
    codes: list[object] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{password}")
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, code, _p: (codes.append(code), answered.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return not codes[0].is_failure  # type: ignore[attr-defined]
