"""The harness every suite uses: a store in tmp_path, ptys, a real broker, and a guard against leaks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import config as config_mod
from gateway.store import Store

pytest_plugins = [
    "tests.fixtures.mosquitto",
    "tests.fixtures.postgres",
    "tests.fixtures.chromium",
    "tests.fixtures.disk",
    "tests.fixtures.ckan",
    "tests.fixtures.modem",
]

REPO = Path(__file__).resolve().parent.parent


def _children() -> set[int]:
    """Live (non-zombie) child processes of this process."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry))
    return found


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread or a child process running (session services excepted)."""
    from tests.fixtures.mosquitto import SERVICE_PIDS

    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = _children() - children_before - SERVICE_PIDS
        if not threads and not children:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    pytest.fail(f"test leaked threads {[t.name for t in threads]} / child processes {sorted(children)}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real store in a SQLite file under tmp_path."""
    with Store.open(tmp_path / "data" / "anjungan.db") as opened:
        yield opened


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A configuration file in tmp_path (data in tmp_path/data, the ingest's journal in tmp_path/run, each frame
    committed at once, no MQTT, no central)."""
    path = tmp_path / "anjungan.toml"
    gateway = {"id": "test-kiosk", "data_dir": str(tmp_path / "data"), "journal_dir": str(tmp_path / "run"),
               "commit_interval_s": 0}  # fmt: skip
    overrides = {"gateway": gateway, "mqtt": {"host": ""}}
    path.write_text(config_mod.commented_toml(overrides))
    return path


@pytest.fixture
def cfg(config_file: Path) -> config_mod.Config:
    return config_mod.load(config_file, env={})


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A real pseudo-terminal: (master fd, slave device path). The slave is raw (no echo, no line editing)."""
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)
