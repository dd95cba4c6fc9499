"""`anjungan demo` end to end: simulated nodes on ptys -> ingest -> store -> kiosk and sync -> central."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.mosquitto import free_port


def _wait(what: str, check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (requests.RequestException, OSError, ValueError) as err:
            last = err
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s (last error: {last})")


@pytest.mark.slow
@pytest.mark.timeout(900)  # the scripted power cut and flood come within the demo's first minutes
def test_demo_runs_the_whole_system(tmp_path: Path) -> None:
    kiosk_port, central_port = free_port(), free_port()
    demo_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--dir", str(demo_dir),
         "--kiosk-port", str(kiosk_port), "--central-port", str(central_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # the demo prepares its central first (about fifteen short commands: slow on a busy machine)
        _wait(
            "the kiosk answering", lambda: requests.get(f"http://127.0.0.1:{kiosk_port}/", timeout=2).ok, 300
        )
        _wait("the central answering", lambda: requests.get(f"http://127.0.0.1:{central_port}/api/v1/time",
                                                            timeout=2).ok, 60)  # fmt: skip
        config = demo_dir / "anjungan.toml"

        def sync_status() -> dict:
            out = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), "sync", "status",
                                  "--format", "json"], capture_output=True, text=True, timeout=60)  # fmt: skip
            return dict(json.loads(out.stdout))

        # the sample content is published at the central (not seeded into the store): the first sync round
        # that completes brings it to the kiosk, whose first load of the page then shows it
        _wait("the first sync round", lambda: sync_status()["downlink"]["last_success"] is not None, 120)
        berkala = requests.get(f"http://127.0.0.1:{kiosk_port}/informasi/berkala", timeout=10).text
        assert "Profil Kecamatan Wonosalam" in berkala, berkala
        _wait("the sample documents' files at the kiosk", lambda: sync_status()["files"]["fetched"] >= 3, 60)
        # the demo's secrets are private; the kiosk's operator pages are on (the demo made their password)
        for secret in (
            config,
            demo_dir / "central" / "credentials.json",
            demo_dir / "central" / "kiosk-operator.json",
        ):
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
        assert requests.get(f"http://127.0.0.1:{kiosk_port}/operator/masuk", timeout=10).status_code == 200

        def stored_nodes() -> set[str]:
            out = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), "readings"],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
            return {json.loads(line)["node"] for line in out.stdout.splitlines()}

        _wait("readings of all three simulated nodes in the store", lambda: len(stored_nodes()) == 3, 90)

        def central_nodes() -> set[str]:
            out = subprocess.run(
                [sys.executable, "-m", "gateway", "central", "--db",
                 f"sqlite:///{demo_dir / 'central' / 'central.db'}", "export", "readings"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            return {json.loads(line)["node"] for line in out.stdout.splitlines()}

        _wait("readings of all three nodes at the central", lambda: len(central_nodes()) == 3, 120)

        def central_submissions() -> int:
            out = subprocess.run(
                [sys.executable, "-m", "gateway", "central", "--db",
                 f"sqlite:///{demo_dir / 'central' / 'central.db'}", "export", "submissions"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            return len(out.stdout.splitlines())

        _wait("the demo's three submissions at the central", lambda: central_submissions() == 3, 120)

        def alert_kinds() -> set[str]:
            found = set()
            for state in ("open", "acknowledged", "resolved"):
                out = subprocess.run(
                    [sys.executable, "-m", "gateway", "central", "--db",
                     f"sqlite:///{demo_dir / 'central' / 'central.db'}", "alerts", "list", "--state", state],
                    capture_output=True, text=True, timeout=60,
                )  # fmt: skip
                found |= {json.loads(line)["kind"] for line in out.stdout.splitlines()}
            return found

        # the scripted scenario: a mains outage from 90 s and a flood crossing within the first minutes
        _wait(
            "the demo's power cut and flood as alerts at the central",
            lambda: {"power", "water"} <= alert_kinds(),
            420,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{kiosk_port}/" in output and f"http://127.0.0.1:{central_port}/" in output
    assert re.search(r"kiosk operator pages: \S+ +password \S+", output), output
    assert (
        f"central database: anjungan central --db sqlite:///{demo_dir / 'central' / 'central.db'}" in output
    )
    _officer_answers_in_the_back_office(demo_dir, output)
    _a_second_start_publishes_nothing_twice(demo_dir, kiosk_port, central_port)
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and _is_demo_child(p, demo_dir)]
    assert leftovers == [], "the demo left processes running"


def _is_demo_child(pid: str, demo_dir: Path) -> bool:
    try:
        return str(demo_dir) in Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return False


def _officer_answers_in_the_back_office(demo_dir: Path, output: str) -> None:
    """The PPID account the demo printed logs in and sees the demo's submissions in the inbox."""

    from sync.central.app import create_app
    from tests.central.officers import login

    passwords = dict(re.findall(r"officer (\S+) +role \S+.*?password (\S+)", output))
    assert set(passwords) == {"admin", "ppid", "pu", "atasan", "teknisi"}, output
    central_dir = demo_dir / "central"
    app = create_app(f"sqlite:///{central_dir / 'central.db'}", files_dir=central_dir / "central-files",
                     key_file=central_dir / "central.key")  # fmt: skip
    try:
        client = app.test_client()
        assert login(client, "ppid", passwords["ppid"]).status_code == 302
        inbox = client.get("/kotak-masuk").get_data(as_text=True)
        assert "3 berkas" in inbox and "Jalan berlubang di depan SD" in inbox and "Siti Aminah" not in inbox
        # the sample content is the central's publication: on the Publikasi page, to edit or withdraw
        published = client.get("/publikasi").get_data(as_text=True)
        assert (
            "Profil Kecamatan Wonosalam" in published
            and "Selamat datang di Anjungan Informasi Publik" in published
        )
        assert "/publikasi/dip/dip-001/tarik" in published
    finally:
        app.extensions["anjungan.central"].engine.dispose()


def _content_versions(demo_dir: Path) -> list[tuple[str, str, int]]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{demo_dir / 'central' / 'central.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT kind, item_id, version FROM content ORDER BY version")).all()
    finally:
        engine.dispose()
    return [(str(kind), str(item), int(version)) for kind, item, version in rows]


def _a_second_start_publishes_nothing_twice(demo_dir: Path, kiosk_port: int, central_port: int) -> None:
    """A second start prepares the demo again: its publication of the sample content adds nothing."""
    from gateway.demo import prepare
    from gateway.sample_content import SAMPLE_CHANGES

    before = _content_versions(demo_dir)
    assert {(kind, item) for kind, item, _v in before} >= {(c["kind"], c["id"]) for c in SAMPLE_CHANGES}
    prepare(demo_dir, kiosk_port=kiosk_port, central_port=central_port)
    assert _content_versions(demo_dir) == before


def test_demo_with_a_port_taken_says_which_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path / "demo"), "--kiosk-port", str(free_port()),
             "--central-port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        f"anjungan: port {port} is taken (something else listens there): choose another: "
        'make demo DEMO_ARGS="--central-port N" or .venv/bin/anjungan demo --central-port N'
    )
    assert not (tmp_path / "demo").exists()  # nothing was started or written


def test_demo_with_both_ports_taken_names_both_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as kiosk, socket.socket() as central:
        for sock in (kiosk, central):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        kiosk_port, central_port = kiosk.getsockname()[1], central.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path / "demo"),
             "--kiosk-port", str(kiosk_port), "--central-port", str(central_port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"anjungan: ports {kiosk_port} (--kiosk-port) and {central_port} (--central-port) are taken (something "
        'else listens there): choose others: make demo DEMO_ARGS="--kiosk-port N --central-port M" or '
        ".venv/bin/anjungan demo --kiosk-port N --central-port M"
    ]
    assert not (tmp_path / "demo").exists()


def test_make_demo_passes_demo_args(tmp_path: Path) -> None:
    """`make demo DEMO_ARGS=...` hands its options to `anjungan demo` (shown by make's dry run)."""
    from tests.conftest import REPO

    result = subprocess.run(
        ["make", "-n", "-o", "install", "demo", "DEMO_ARGS=--dir elsewhere --kiosk-port 8081 --central-port 8601"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/anjungan demo --dir elsewhere --kiosk-port 8081 --central-port 8601" in result.stdout
