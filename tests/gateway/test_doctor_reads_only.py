"""``anjungan doctor`` reads without writing: the store's files are byte for byte what they were, no ``-wal`` or
``-shm`` appears that was not there, a damaged store is called damaged, and the printer setting is read with
the kiosk's own parser (a setting the kiosk cannot use is a finding, not a traceback that hides the rest)."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from gateway import doctor
from gateway.cli import cli
from gateway.printerspec import PrinterError, PrinterTarget, parse_printer


def _doctor(cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")} | extra
    return subprocess.run([sys.executable, "-m", "gateway", *argv, "doctor"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _initialised(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "anjungan.toml"
    assert CliRunner().invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    return config, tmp_path / "data" / "anjungan.db"


def _files(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def test_a_healthy_store_is_left_exactly_as_it_was(tmp_path: Path) -> None:
    config, store = _initialised(tmp_path)
    before = _files(store.parent)
    assert sorted(before) == ["anjungan.db", "kiosk.key"] or sorted(before) == ["anjungan.db"]
    done = _doctor(tmp_path, "--config", str(config))
    assert "store " in done.stdout and "Traceback" not in done.stderr
    assert _files(store.parent) == before  # no -wal, no -shm, not a byte changed


def test_while_the_services_hold_the_store_it_reads_alongside_them(tmp_path: Path) -> None:
    """The services keep the store open (its -wal and -shm exist): doctor reads through them, and sees what is
    still only in the -wal."""
    config, store = _initialised(tmp_path)
    service = sqlite3.connect(store)  # a service: WAL, a write not yet checkpointed
    try:
        service.execute("PRAGMA journal_mode = WAL")
        service.execute("PRAGMA wal_autocheckpoint = 0")
        service.execute(
            "INSERT INTO nodes (node, first_seen, last_seen, online) VALUES ('dmk-wl-07', 1, 1, 1)"
        )
        service.commit()
        assert Path(f"{store}-wal").exists() and Path(f"{store}-shm").exists()
        done = _doctor(tmp_path, "--config", str(config))
        assert "node dmk-wl-07" in done.stdout, done.stdout + done.stderr
    finally:
        service.close()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"PK\x03\x04 a zip, not a store" * 10, "the file is not a SQLite database"),
        (None, "it has no migrations table: it is not an anjungan store"),
    ],
)
def test_a_damaged_store_is_called_damaged_and_left_alone(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    """Before, a 0-byte store became 4096 bytes (journal_mode=WAL written into it), then "needs an upgrade (7
    migrations)", and -wal/-shm files stayed beside it."""
    config, store = _initialised(tmp_path)
    for side in (Path(f"{store}-wal"), Path(f"{store}-shm")):
        side.unlink(missing_ok=True)
    store.unlink()
    if content is None:
        other = sqlite3.connect(store)  # a SQLite database, but someone else's
        other.execute("CREATE TABLE t (x)")
        other.close()
    else:
        store.write_bytes(content)
    before = _files(store.parent)
    done = _doctor(tmp_path, "--config", str(config))
    assert done.returncode == 1
    out = done.stdout
    assert f"the store {store} is damaged: {says}" in out and f"penyimpanan {store} rusak" in out
    assert f"copy the newest backup from {store.parent / 'backups'} to {store}" in out
    assert "needs an upgrade" not in out and "Traceback" not in done.stderr
    assert _files(store.parent) == before


def test_without_configuration_or_data_nothing_is_called_private(tmp_path: Path) -> None:
    """Before: "ok  configuration, store and data folders are private" about files that do not exist."""
    done = _doctor(tmp_path)
    assert done.returncode == 1 and "are private to their owner" not in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("network:printer.local:9l00", "the port '9l00' is not a number from 1 to 65535"),
        ("network:[::1", "has no closing ]"),
        ("network:[::1]9100", "after [address] only :PORT may follow"),
        ("usb:0416:5011", "the usb: form is not supported; a USB receipt printer is file:/dev/usb/lp0"),
        ("file:", "no path"),
        ("lpt:1", "use file:/dev/usb/lp0, serial:DEV or network:HOST[:PORT]"),
    ],
)
def test_a_printer_setting_the_kiosk_cannot_use_is_a_finding(tmp_path: Path, spec: str, says: str) -> None:
    """Before, ``network:printer.local:9l00`` ended doctor in a ValueError traceback: the clock and the central
    were never checked."""
    config, _store = _initialised(tmp_path)
    done = _doctor(tmp_path, "--config", str(config), ANJUNGAN_KIOSK_PRINTER=spec)
    assert "Traceback" not in done.stderr, done.stderr
    assert f"the kiosk cannot use the printer setting: printer setting {spec!r}" in done.stdout
    assert says in done.stdout
    assert "no central configured" in done.stdout  # the checks after the printer still ran
    with pytest.raises(PrinterError):
        parse_printer(spec)  # the kiosk refuses the same setting


def test_the_printer_is_found_as_the_kiosk_would_open_it(tmp_path: Path) -> None:
    assert parse_printer("network:[::1]:9101") == PrinterTarget("network", host="::1", port=9101)
    assert parse_printer("network:fe80::1") == PrinterTarget("network", host="fe80::1", port=9100)
    assert parse_printer("network:printer.local") == PrinterTarget("network", host="printer.local", port=9100)
    assert parse_printer("serial:") == PrinterTarget("serial", device="/dev/ttyUSB0")

    # a device file: found when it opens for writing, a finding when it is not there
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    found = list(doctor._printer(_cfg(f"file:{device}")))
    assert [f.ok for f in found] == [True], found
    missing = list(doctor._printer(_cfg(f"file:{tmp_path / 'lp1'}")))
    assert [f.ok for f in missing] == [False]
    assert not (tmp_path / "lp1").exists()  # never created

    # a network printer on IPv6 loopback, bracketed with its port
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        port = server.getsockname()[1]
        listening = list(doctor._printer(_cfg(f"network:[::1]:{port}")))
    assert [f.ok for f in listening] == [True], listening


def _cfg(printer: str) -> SimpleNamespace:
    return SimpleNamespace(kiosk=SimpleNamespace(printer=printer))
