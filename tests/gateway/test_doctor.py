"""``anjungan doctor``: the technician's first command tells the truth and creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import cli


def _doctor(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")} | extra
    return subprocess.run([sys.executable, "-m", "gateway", *argv, "doctor"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_doctor_without_a_configuration_creates_nothing_and_says_what_is_missing(tmp_path: Path) -> None:
    done = _doctor(tmp_path)
    assert done.returncode == 1
    assert list(tmp_path.iterdir()) == []  # no ./data/anjungan.db, no ./data, nothing
    out = done.stdout
    assert "tidak ada berkas konfigurasi" in out and "no configuration file" in out
    assert "-> create one with `anjungan init`" in out
    assert "no store at data/anjungan.db" in out and "-> create it with `anjungan init`" in out
    assert "finding(s) need a hand" in done.stderr


def test_doctor_reports_each_part_in_both_languages_with_its_fix(tmp_path: Path) -> None:
    config = tmp_path / "anjungan.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    config.write_text(config.read_text() + '\n[[serial]]\nport = "/dev/ttyANJUNGAN-missing"\n')
    done = _doctor(tmp_path, "--config", str(config), ANJUNGAN_MQTT_HOST="127.0.0.1", ANJUNGAN_MQTT_PORT="9")
    assert done.returncode == 1
    out = done.stdout
    for english in ("configuration read from", "store ", "free on the disk", "are private to their owner",
                    "MQTT broker at 127.0.0.1:9 does not answer", "no node has been read yet",
                    "serial port /dev/ttyANJUNGAN-missing is missing", "clock", "no central configured"):  # fmt: skip
        assert english in out, english
    assert "broker MQTT di 127.0.0.1:9 tidak menjawab" in out
    assert "port serial /dev/ttyANJUNGAN-missing tidak ada" in out
    # every finding that needs a hand carries its fix in both languages
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("PERLU"):
            assert lines[i + 2].strip().startswith("->") and lines[i + 3].strip().startswith("->"), line


def test_doctor_flags_a_store_that_needs_an_upgrade(tmp_path: Path) -> None:
    import sqlite3

    config = tmp_path / "anjungan.toml"
    assert CliRunner().invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    with sqlite3.connect(tmp_path / "data" / "anjungan.db") as conn:
        conn.execute("DELETE FROM migrations WHERE name = '0700-latest-node-order'")
    out = _doctor(tmp_path, "--config", str(config)).stdout
    assert "the store needs an upgrade (1 migrations pending)" in out and "run `anjungan upgrade`" in out
