"""The ingest's journal: serial frames of the open group survive a crash of the ingest process."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import config as config_mod
from gateway.cli import cli
from gateway.frame import encode, parse_line, reading_line
from gateway.ingest.journal import Entry, read_entries, store_tag
from gateway.ingest.service import Ingest, SerialPort
from gateway.store import Store
from tests.fixtures.disk import fill
from tests.ingest.helpers import anjungan, count, frame_keys, stop, wait_for, write_all

NODE = "dmk-wl-01"
HELLO = {"v": 1, "k": "h", "n": NODE, "b": 4, "q": 0, "fw": "0.3.1", "up_s": 2, "mem_free": 81234}


def _journaled_qs(folder: Path) -> list[int]:
    """The q of every frame line in the journals in ``folder``, in order."""
    qs = []
    for path in sorted(folder.glob("ingest-*.journal")):
        entries, _torn = read_entries(path)
        qs += [parse_line(line).seq for entry in entries for line in entry.lines]
    return qs


def _readings(config: Path) -> list[tuple[str, int, int, str]]:
    result = CliRunner().invoke(cli, ["--config", str(config), "readings"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    return [(r["node"], r["boot"], r["seq"], r["name"]) for r in rows]


def test_frames_of_the_open_group_are_saved_once_after_the_ingest_is_killed(
    tmp_path: Path, store: Store, pty_pair: tuple[int, str]
) -> None:
    """A real ``anjungan ingest`` with a commit interval of 60 s reads a real pty; SIGKILLed while frames wait
    for their commit, it saves them at its next start, and every frame is stored exactly once."""
    master, port = pty_pair
    journal_dir = tmp_path / "run"
    config = tmp_path / "anjungan.toml"
    config.write_text(
        config_mod.commented_toml(
            {
                "gateway": {"id": "test-kiosk", "data_dir": str(tmp_path / "data"), "commit_interval_s": 60,
                            "journal_dir": str(journal_dir)},
                "mqtt": {"host": ""},
            }
        )
    )  # fmt: skip
    log = tmp_path / "ingest.log"
    proc = anjungan("--config", str(config), "ingest", "--serial", port, log=log)
    try:
        wait_for(lambda: f"serial {port}: open" in log.read_text(), timeout=30, what="the port to open")
        write_all(master, encode(HELLO))
        for q in range(
            1, 16
        ):  # journaled serial frames gather for the whole interval (no sender awaits them)
            write_all(master, reading_line(NODE, 4, q, {"water_cm": 100 + q, "temp_c": 27.5}))
        wait_for(lambda: set(range(1, 16)) <= set(_journaled_qs(journal_dir)), what="the journaled frames")
    finally:
        stop(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL and frame_keys(store) == []  # nothing committed yet

    proc = anjungan("--config", str(config), "ingest", "--serial", port, log=log)
    try:
        wait_for(lambda: len(frame_keys(store)) == 16, timeout=30, what="the first journal saved")
        wait_for(lambda: f"serial {port}: open" in log.read_text().split("submitted again")[-1], timeout=30,
                 what="the port open after the replay")  # fmt: skip
        for q in range(16, 21):  # these wait in the open group for up to 60 s
            write_all(master, reading_line(NODE, 4, q, {"water_cm": 100 + q, "temp_c": 27.5}))
        wait_for(lambda: set(range(16, 21)) <= set(_journaled_qs(journal_dir)), what="the journaled frames")
    finally:
        stop(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert [q for _n, _b, q in frame_keys(store)] == list(range(16))  # the open group was not committed
    assert "ingest: stopping" not in log.read_text()

    proc = anjungan("--config", str(config), "ingest", "--serial", port, log=log)
    try:
        wait_for(lambda: len(frame_keys(store)) == 21, timeout=30, what="the journaled frames saved")
        wait_for(lambda: f"serial {port}: open" in log.read_text().split("submitted again")[-1], timeout=30,
                 what="the port open after the replay")  # fmt: skip
        write_all(master, reading_line(NODE, 4, 21, {"water_cm": 121, "temp_c": 27.5}))
        wait_for(lambda: 21 in _journaled_qs(journal_dir), what="the new frame journaled")
    finally:
        assert stop(proc, signal.SIGTERM) == 0  # a clean stop commits the open group
    assert "serial frames submitted again (the store keeps each once)" in log.read_text()
    assert frame_keys(store) == [(NODE, 4, q) for q in range(22)]
    assert count(store, "readings") == 2 * 21
    readings = _readings(config)
    assert len(readings) == len(set(readings)) == 2 * 21  # each exactly once
    assert sorted({q for _n, _b, q, _name in readings}) == list(range(1, 22))
    assert list(journal_dir.iterdir()) == []  # all saved: nothing left to replay


def _dead_journal(folder: Path, store: Store, name: str, content: bytes) -> Path:
    folder.mkdir(exist_ok=True)
    stem = f"ingest-{store_tag(store.path)}-{name}"
    (folder / f"{stem}.lock").touch()
    path = folder / f"{stem}.journal"
    path.write_bytes(content)
    return path


def test_a_torn_or_damaged_journal_line_is_skipped_and_counted_and_the_rest_is_saved(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "run"
    frames = [reading_line(NODE, 4, q, {"water_cm": 100 + q}).rstrip(b"\n") for q in (1, 2, 3)]
    good = Entry("/dev/ttyACM0", 1_780_000_000_000, 0, (frames[0], frames[1])).encode()
    not_a_frame = Entry("/dev/ttyACM0", 1_780_000_000_100, 0, (b"MicroPython v1.27.0",)).encode()
    torn = Entry("/dev/ttyACM0", 1_780_000_000_200, 0, (frames[2],)).encode()[:-20]  # cut by a crash
    dead = _dead_journal(folder, store, "1-a", good + b"{not json\n" + not_a_frame + torn)
    # a journal of an ingest that still runs (its lock is held) is neither read nor removed
    live = _dead_journal(folder, store, "2-b", Entry("/dev/ttyUSB0", 1, 0, (frames[2],)).encode())
    held = os.open(live.with_suffix(".lock"), os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    other_store = folder / "ingest-000000000000-3-c.journal"  # another store's: not this one's to replay
    other_store.write_bytes(Entry("/dev/ttyUSB1", 1, 0, (frames[2],)).encode())
    (folder / "ingest-000000000000-3-c.lock").touch()
    (folder / "ingest-000000000000-4-d.lock").touch()  # another store's dead ingest left nothing: swept
    (folder / "ingest-000000000000-4-d.journal").touch()
    try:
        with (
            caplog.at_level(logging.WARNING),
            Ingest(store, journal_dir=folder, commit_interval_s=60) as ingest,
        ):
            assert ingest.journal is not None and ingest.journal.torn == 2
            wait_for(lambda: frame_keys(store) == [(NODE, 4, 1), (NODE, 4, 2)], what="the good entry saved")
            wait_for(lambda: [c["line"] for c in store.console("/dev/ttyACM0")] == ["MicroPython v1.27.0"],
                     what="the line that is not a frame kept in the console log")  # fmt: skip
            assert not dead.exists() and live.exists() and other_store.exists()
            assert store.nodes()[0]["last_seen"] == 1_780_000_000_000  # stored with its arrival time
    finally:
        os.close(held)
    assert "the last line is torn" in caplog.text and "line 2 cannot be read" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [live.name, live.with_suffix(".lock").name, other_store.name, "ingest-000000000000-3-c.lock"]
    )


def test_a_full_journal_disk_makes_the_serial_frames_commit_at_once(
    tiny_disk: Path, store: Store, pty_pair: tuple[int, str], caplog: pytest.LogCaptureFixture
) -> None:
    """When the journal cannot be written (its tmpfs is full), no frame waits for the interval: it is
    committed at once; once there is room again, frames are journaled and gathered as before."""
    master, port = pty_pair
    folder = tiny_disk / "journal"
    ingest = Ingest(store, serial_ports=[SerialPort(port)], journal_dir=folder, commit_interval_s=600)
    with caplog.at_level(logging.WARNING), ingest:
        journal = ingest.journal
        assert journal is not None
        wait_for(ingest.serial_readers[0].is_open.is_set, what="the port open")
        filler = fill(tiny_disk)
        write_all(master, reading_line(NODE, 4, 1, {"water_cm": 101}))
        wait_for(lambda: frame_keys(store) == [(NODE, 4, 1)], what="the frame committed at once")
        assert journal.failed == 1 and "serial frames are saved at once" in caplog.text
        filler.unlink()
        write_all(master, reading_line(NODE, 4, 2, {"water_cm": 102}))
        wait_for(lambda: _journaled_qs(folder) == [2], what="the next frame journaled")
        assert frame_keys(store) == [(NODE, 4, 1)] and journal.waiting == 1  # it waits in the open group
        assert "written again" in caplog.text
    assert frame_keys(store) == [(NODE, 4, 1), (NODE, 4, 2)]  # closing commits the open group
    assert list(folder.iterdir()) == []
