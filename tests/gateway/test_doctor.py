"""``anjungan doctor``: the technician's first command tells the truth and creates nothing."""

from __future__ import annotations

import gzip
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import config as config_mod
from gateway.cli import cli
from gateway.doctor import Finding, run_checks, wear_finding
from gateway.store import Store

REPO = Path(__file__).resolve().parents[2]


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
                request = conn.recv(65536)
                if self.how == "forbidden":  # the time for anyone, 403 to every signed request
                    if request.startswith(b"GET /api/v1/time "):
                        body = b'{"time": 1800000000.0}'
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                     + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
                    else:
                        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    return
                if self.how == "503":
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                    return
                if self.how == "stall":  # the headers, one byte of the body, then nothing
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                    )
                    self.stop.wait(30)
                    return
                if self.how == "cut":  # the headers, a part of the body, then a reset
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                    )
                    time.sleep(0.2)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if self.how == "silent":  # the request is read, and nothing comes back until the end
                    self.stop.wait(30)
                    return
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


def _findings(config: Path, **env: str) -> dict[str, Finding]:
    """Every finding of ``doctor`` for ``config`` (in this process), by its English text."""
    cfg = config_mod.load(config, env={"ANJUNGAN_MQTT_HOST": "", **env})
    return {finding.en: finding for finding in run_checks(cfg)}


def _one(findings: dict[str, Finding], start: str) -> Finding:
    (found,) = [f for text, f in findings.items() if text.startswith(start)]
    return found


def _init(tmp_path: Path, *options: str) -> Path:
    config = tmp_path / "anjungan.toml"
    result = CliRunner().invoke(cli, ["--config", str(config), "init", *options])
    assert result.exit_code == 0, result.output
    return config


def test_the_credentials_count_as_accepted_only_on_the_centrals_own_answer(tmp_path: Path) -> None:
    """A central that tells the time but answers 403 to signed requests was reported as accepting them."""
    config = _init(tmp_path, "--gateway-id", "dmk-uji")
    central = _BadCentral("forbidden")
    try:
        found = _findings(config, ANJUNGAN_CENTRAL_URL=f"http://127.0.0.1:{central.port}",
                          ANJUNGAN_CENTRAL_GATEWAY_ID="dmk-uji", ANJUNGAN_CENTRAL_SECRET="s")  # fmt: skip
    finally:
        central.close()
    assert "the central accepts this gateway's credentials" not in found
    finding = _one(found, "the credentials are not confirmed: the central answered HTTP 403")
    assert not finding.ok and "[central] url" in finding.fix_en


def test_refused_records_and_a_sync_that_never_succeeds_need_a_hand(tmp_path: Path) -> None:
    config = _init(tmp_path, "--gateway-id", "dmk-uji")
    with Store.open(tmp_path / "data" / "anjungan.db") as store:
        store.add_event("test", {"n": 1})
        store.dead_letter("events", store.outbox("events", 1), "refused by the central: test")
    found = _findings(config)
    events = _one(found, "events: ")
    assert not events.ok and "`anjungan sync dead-letters list`" in events.fix_en
    assert _one(found, "readings: 0 waiting to sync, 0 refused").ok
    assert not any(text.startswith("no sync with the central") for text in found)  # no central: no sync
    central = {"ANJUNGAN_CENTRAL_URL": "http://127.0.0.1:9", "ANJUNGAN_CENTRAL_GATEWAY_ID": "dmk-uji",
               "ANJUNGAN_CENTRAL_SECRET": "s"}  # fmt: skip
    never = _one(_findings(config, **central), "no sync with the central succeeded (never)")
    assert not never.ok and "systemctl status anjungan-sync" in never.fix_en
    with Store.open(tmp_path / "data" / "anjungan.db") as store:
        store.mark_acked("readings", 0)  # a round that found nothing to send, just now
    assert _one(_findings(config, **central), "the last sync succeeded 0 min ago").ok


def test_the_kiosk_id_is_its_own_and_the_same_at_the_central(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "anjungan.toml"), "init"])
    assert (
        "note: [gateway] id is the built-in example: give each kiosk its own (--gateway-id)" in result.output
    )
    config = tmp_path / "anjungan.toml"
    example = _one(_findings(config), "the kiosk id is still the built-in example (dmk-wonosalam)")
    assert not example.ok
    config = _init(tmp_path, "--force", "--gateway-id", "dmk-uji")
    assert not any("kiosk id" in text or "two ids" in text for text in _findings(config))
    two = _one(_findings(config, ANJUNGAN_CENTRAL_GATEWAY_ID="kecamatan-uji"), "this kiosk has two ids")
    assert not two.ok and "`anjungan central add-gateway dmk-uji`" in two.fix_en


def test_a_loose_folder_gets_a_folder_fix_and_the_simulator_makes_none(tmp_path: Path) -> None:
    config = _init(tmp_path, "--gateway-id", "dmk-uji")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "node", "simulate",
                             "--node-id", "sim-doc-01"], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert not [text for text in _findings(config) if "is not private" in text]  # data/sim/... are 0700
    loose = tmp_path / "data" / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    finding = _one(_findings(config), f"{loose} is not private")
    assert (finding.fix_id, finding.fix_en) == (f"chmod 0700 {loose}", f"chmod 0700 {loose}")


def test_without_configuration_or_data_there_is_no_ok_for_permissions_and_lines_align(tmp_path: Path) -> None:
    done = _doctor(tmp_path)
    assert "are private to their owner" not in done.stdout
    heads = [line for line in done.stdout.splitlines() if not line.startswith(" ")]
    assert heads and all(line[:7] in ("ok     ", "PERLU  ") for line in heads), heads
    assert "no central configured: nothing this kiosk collects reaches the central" in done.stdout


def test_sd_wear_is_held_to_the_deploy_target_with_a_command_every_pi_has() -> None:
    assert wear_finding(49e6).ok
    worn = wear_finding(60e6)
    assert not worn.ok and "target ≤ 50 MB" in worn.en
    assert "iotop" not in worn.fix_en and "/proc/[0-9]*/io" in worn.fix_en


def test_the_printer_is_checked_by_opening_it_and_the_operator_pages_by_their_password(
    tmp_path: Path,
) -> None:
    config = _init(tmp_path, "--gateway-id", "dmk-uji")
    found = _findings(config, ANJUNGAN_KIOSK_PRINTER=f"file:{tmp_path / 'lp0'}")
    missing = _one(
        found, f"receipt printer file:{tmp_path / 'lp0'} cannot be opened (No such file or directory)"
    )
    assert not missing.ok and not (tmp_path / "lp0").exists()  # never created
    assert not _one(found, "the operator pages are off").ok
    (tmp_path / "lp0").write_bytes(b"")
    found = _findings(config, ANJUNGAN_KIOSK_PRINTER=f"file:{tmp_path / 'lp0'}",
                      ANJUNGAN_KIOSK_OPERATOR_PASSWORD_HASH="scrypt:x")  # fmt: skip
    assert _one(found, f"receipt printer file:{tmp_path / 'lp0'} can be opened to print").ok
    assert _one(found, "the operator pages are on").ok
    usb = _one(
        _findings(config, ANJUNGAN_KIOSK_PRINTER="usb:0416:5011"),
        "the kiosk cannot use the printer setting: printer setting 'usb:0416:5011'",
    )
    assert not usb.ok and "file:/dev/usb/lp0" in usb.fix_en


@pytest.mark.parametrize(
    ("how", "english", "indonesian"),
    [
        ("refused", "the connection was refused", "sambungan ditolak"),
        ("503", "it answered HTTP 503 Service Unavailable", "pusat menjawab HTTP 503"),
        ("silent", "no answer in time", "tidak ada jawaban tepat waktu"),
        (
            "stall",
            "no answer in time",
            "tidak ada jawaban tepat waktu",
        ),  # after the headers: urllib3's errors
        ("cut", "the connection was cut", "sambungan terputus"),
    ],
)
def test_a_central_out_of_reach_is_said_in_plain_words(how: str, english: str, indonesian: str) -> None:
    """The cause, in both languages, not requests' wrapping of it ("HTTPConnectionPool(host=...): Max retries
    exceeded ... (Caused by NewConnectionError(...))"): in the doctor's finding and in `clock`'s error."""
    from gateway import clockset
    from gateway.doctor import network_reason
    from gateway.errors import AnjunganError
    from tests.fixtures.mosquitto import free_port

    central = None if how == "refused" else _BadCentral(how)
    url = f"http://127.0.0.1:{free_port() if central is None else central.port}"
    try:
        with pytest.raises(AnjunganError) as caught:
            clockset.central_time(url, timeout_s=0.5, deadline_s=10)
    finally:
        if central is not None:
            central.close()
    message = str(caught.value)
    assert message.startswith(f"cannot read the central's time from {url}: {english}")
    assert "Pool(" not in message and "Caused by" not in message
    why_id, why_en = network_reason(caught.value.__cause__)  # type: ignore[arg-type]
    assert why_en.startswith(english) and why_id.startswith(indonesian)


def test_the_clock_finding_says_when_the_central_last_agreed(tmp_path: Path, monkeypatch) -> None:
    """ "Agrees with the central's" is what the sync last compared, and when, not a check made now (the central
    may be out of reach); the store's size reads in the unit of store_budget_mb."""
    from gateway import doctor
    from gateway.store.clock import SYSTEM_CLOCK

    config = _init(tmp_path)
    cfg = config_mod.load(config, env={})
    with Store.open(cfg.store_path) as store:
        store.save_clock_offset({"clock_offset_ms": "400", "clock_checked_at": str(SYSTEM_CLOCK.now_ms() - 180_000),
                                 "clock_base_ms": str(SYSTEM_CLOCK.base_ms()), "clock_boot": SYSTEM_CLOCK.boot_id()})  # fmt: skip
    monkeypatch.setattr(doctor, "kernel_clock_synchronized", lambda: False)  # (as on a Pi without NTP)
    found = _findings(config)
    clock = _one(found, "clock: agrees with the central's")
    assert clock.ok and clock.en == "clock: agrees with the central's (+0 s, checked 3 min ago)"
    assert clock.id == "jam: sesuai jam pusat (+0 s, diperiksa 3 menit lalu)"
    store_line = _one(found, f"store {cfg.store_path}: ")
    assert store_line.en.endswith(f" MB / {cfg.gateway.store_budget_mb} MB used")


def test_network_reason_never_raises_and_says_one_line() -> None:
    """Odd exceptions (a str() that fails, args that are not a tuple, an SSLError made in Python without
    ``reason``, blank first lines, a cycle of contexts) still give one short, non-empty line each."""
    import ssl

    import requests

    from gateway.doctor import network_reason

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    class NoArgs(Exception):
        args = None  # type: ignore[assignment]

    odd = NoArgs("x")
    looped = OSError("outer")
    looped.__context__ = KeyError("inner")
    looped.__context__.__context__ = looped
    cases = [Unprintable(), odd, looped, RuntimeError("\n\n  second line"), requests.exceptions.SSLError(ssl.SSLError("read error: x")),
             RuntimeError("")]  # fmt: skip
    for err in cases:
        why_id, why_en = network_reason(err)
        for line in (why_id, why_en):
            assert line and "\n" not in line and len(line) <= 200, (err, line)
    assert network_reason(RuntimeError("\n\n  second line"))[1] == "second line"
    assert network_reason(requests.exceptions.SSLError(ssl.SSLError("read error: x")))[1].startswith(
        "TLS failed"
    )
