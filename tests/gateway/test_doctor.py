"""``anjungan doctor``: the technician's first command tells the truth and creates nothing."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
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


class _BadCentral:
    """A real HTTP server on a loopback port that answers every request badly: ``drip`` announces 100,000 bytes
    and sends one every 50 ms; ``gzip`` sends the time gzip-compressed though identity was asked for."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                if self.how == "gzip":
                    body = gzip.compress(b'{"time": 1800000000.0}')
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
                    return
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                )
                for _ in range(100_000):
                    if self.stop.wait(0.05):
                        return
                    conn.sendall(b" ")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


@pytest.mark.parametrize("how", ["drip", "gzip"])
def test_doctor_bounds_each_network_check_and_says_what_the_central_sent(tmp_path: Path, how: str) -> None:
    config = tmp_path / "anjungan.toml"
    assert CliRunner().invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    central = _BadCentral(how)
    try:
        started = time.monotonic()
        done = _doctor(tmp_path, "--config", str(config), ANJUNGAN_CENTRAL_URL=f"http://127.0.0.1:{central.port}",
                       ANJUNGAN_MQTT_HOST="")  # fmt: skip
        took = time.monotonic() - started
    finally:
        central.close()
    assert done.returncode == 1
    line = next(line for line in done.stdout.splitlines() if "cannot be reached" in line)
    if how == "drip":
        assert "no whole answer within 15 s" in line and took < 60  # before: about 55 minutes
    else:
        assert "compressed (gzip)" in line and "utf-8" not in line
