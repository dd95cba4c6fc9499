"""Every shell script of the project passes shellcheck (installed by `make system-deps`, Debian's package)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shell_scripts() -> list[Path]:
    """Tracked files ending in .sh or starting with a sh/bash shebang."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    found = []
    for name in listed:
        path = REPO / name
        if not path.is_file() or ".venv" in path.parts:
            continue
        with path.open("rb") as handle:
            first = handle.readline(100)
        if name.endswith(".sh") or first.startswith((b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash")):
            found.append(path)
    return found


def test_every_shell_script_passes_shellcheck() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: run `make system-deps` as root"
    scripts = shell_scripts()
    names = {p.relative_to(REPO).as_posix() for p in scripts}
    assert {"hardware/install-pi.sh", "hardware/bin/kiosk-browser", "scripts/system-deps.sh"} <= names
    done = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


INSTALL = REPO / "hardware" / "install-pi.sh"


def _install_functions(body: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``body`` run in bash after sourcing install-pi.sh (its functions, nothing run), logging to tmp_path."""
    script = f'source "{INSTALL}"\nLOG="{tmp_path}/install.log"\n{body}\n'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **env})  # fmt: skip


def test_a_failing_step_stops_the_install_with_one_line_naming_it(tmp_path: Path) -> None:
    """A command whose output goes to the log fails (set -e): before, the script ended without a word."""
    done = _install_functions(
        'release() { say "building release"; python3 -m pip install --no-index /nonexistent >>"$LOG" 2>&1; }\n'
        'step "building the release" release\necho "not reached"',
        tmp_path,
    )
    log = tmp_path / "install.log"
    assert done.returncode != 0 and "not reached" not in done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        f"install-pi.sh: FAILED at building the release (exit {done.returncode}); see {log}"
    )
    assert "FAILED at building the release" in log.read_text()


def _wheelhouse(tmp_path: Path, *names: str) -> Path:
    house = tmp_path / "wheels"
    house.mkdir()
    for name in ("anjungan-0.1.0-py3-none-any.whl", *names):
        (house / name).write_bytes(b"")
    return house


def test_wheels_for_another_machine_or_python_are_refused_before_anything_changes(tmp_path: Path) -> None:
    laptop = _wheelhouse(tmp_path, "cffi-1.17.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                         "pypdfium2-4.30.0-py3-none-manylinux_2_17_aarch64.whl")  # fmt: skip
    done = _install_functions(
        f'WHEELHOUSE="{laptop}"; check_wheelhouse', tmp_path, MACHINE="aarch64", PYTAG="cp311"
    )
    assert done.returncode == 1
    assert (
        "holds 1 wheel(s) for another machine or Python (e.g. cffi-1.17.1-cp311-cp311-manylinux"
        in done.stderr
    )
    assert (
        "pip download --platform manylinux2014_aarch64 --python-version 311 --only-binary=:all:"
        in done.stderr
    )
    (tmp_path / "pi").mkdir()
    house = _wheelhouse(tmp_path / "pi", "cffi-1.17.1-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                        "pypdfium2-4.30.0-py3-none-manylinux_2_17_aarch64.whl",
                        "markupsafe-3.0.2-cp311-abi3-manylinux_2_17_aarch64.whl")  # fmt: skip
    ok = _install_functions(
        "check_wheelhouse", tmp_path, WHEELHOUSE=str(house), MACHINE="aarch64", PYTAG="cp311"
    )
    assert ok.returncode == 0, ok.stderr
    newer = _install_functions(
        f'WHEELHOUSE="{house}"; check_wheelhouse', tmp_path, MACHINE="aarch64", PYTAG="cp312"
    )
    assert newer.returncode == 1 and "e.g. cffi-1.17.1-cp311" in newer.stderr


def test_a_new_kiosk_needs_its_own_id_and_name(tmp_path: Path) -> None:
    config = f"CONFIG={tmp_path}/gateway.toml"
    done = _install_functions(f"{config}; check_identity", tmp_path)
    assert done.returncode == 1 and "a new kiosk needs --gateway-id ID and --name NAME" in done.stderr
    bad = _install_functions(f"{config}; GATEWAY_ID='Desa X'; OFFICE_NAME=X; check_identity", tmp_path)
    assert bad.returncode == 1 and "--gateway-id Desa X: use 1-32 of a-z, 0-9 and -" in bad.stderr
    good = _install_functions(
        f"{config}; GATEWAY_ID=dmk-uji; OFFICE_NAME='Desa Uji'; check_identity", tmp_path
    )
    assert good.returncode == 0, good.stderr
    (tmp_path / "gateway.toml").write_text("")  # an existing configuration is kept as it is
    assert _install_functions(f"{config}; check_identity", tmp_path).returncode == 0


def test_the_broker_starts_whatever_state_the_nodes_interface_is_in(tmp_path: Path) -> None:
    """The configuration made for a nodes' interface that does not exist: a real Mosquitto 2.0 starts on it and
    takes only its users (before, `bind_interface wlan0` without an address stopped the broker, loopback and
    all), and the firewall rule that keeps the broker off other interfaces is valid for nft."""
    import paho.mqtt.client as mqtt

    from tests.fixtures.mosquitto import Broker

    rendered = tmp_path / "rendered"
    rendered.mkdir()
    done = _install_functions(f'render_mqtt_config anjnone0 "{rendered}"', tmp_path)
    assert done.returncode == 0, done.stderr
    conf = (rendered / "anjungan.conf").read_text()
    assert "bind_interface" not in conf and "allow_anonymous false" in conf
    rule = (rendered / "mqtt-firewall.nft").read_text()
    assert 'tcp dport 1883 iifname != { "lo", "anjnone0" } drop' in rule
    nft = shutil.which("nft") or "/usr/sbin/nft"
    assert Path(nft).exists(), "nft is missing: run `make system-deps` as root"
    check = subprocess.run(["unshare", "--user", "--map-root-user", "--net", nft, "-c", "-f",
                            str(rendered / "mqtt-firewall.nft")], capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr

    broker = Broker(tmp_path)
    passwd, acl = tmp_path / "anjungan.passwd", tmp_path / "anjungan.acl"
    acl.write_text((REPO / "hardware" / "mosquitto" / "anjungan.acl").read_text())
    subprocess.run([shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-c", "-b", str(passwd),
                    "anjungan-ingest", "s3cret"], check=True)  # fmt: skip
    conf = conf.replace("listener 1883\n", f"listener {broker.port}\n")
    conf = conf.replace("/etc/mosquitto/anjungan.passwd", str(passwd)).replace(
        "/etc/mosquitto/anjungan.acl", str(acl)
    )
    broker.conf.write_text(conf + ("user root\n" if os.geteuid() == 0 else ""))
    broker.start()
    try:
        codes = {}
        for who, login in (("ingest", ("anjungan-ingest", "s3cret")), ("anonymous", None)):
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{who}")
            if login:
                client.username_pw_set(*login)
            connected = threading.Event()
            # set before connecting: the CONNACK can be handled before the next line runs
            client.on_connect = lambda _c, _u, _f, code, _p, ev=connected, w=who: (
                codes.update({w: code}),
                ev.set(),
            )
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            try:
                assert connected.wait(10), who
            finally:
                client.loop_stop()
                client.disconnect()
        assert not codes["ingest"].is_failure and codes["anonymous"].is_failure
    finally:
        broker.stop()
