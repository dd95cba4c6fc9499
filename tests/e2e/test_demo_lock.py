"""A demo holds its folder: a second `anjungan demo` on the same folder refuses in one line and leaves the first
one's configuration and device links alone; one in another folder, on other ports, runs beside it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.fixtures.mosquitto import free_port
from tests.gateway.test_supervise import Proc, descendants, end, wait_for

HOW = "make demo DEMO_ARGS=\"--dir OTHER --kiosk-port N --central-port M\" or .venv/bin/anjungan demo --dir OTHER --kiosk-port N --central-port M"  # fmt: skip
# What the first start says, in this order, before it prints the URLs (it takes half a minute in all).
FIRST_START_STEPS = (
    "  creating the demo's central and registering the kiosk there ...",
    "  publishing the sample content at the central (only what it never had) ...",
    "  filing a few citizens' submissions and ratings in the kiosk's store ...",
    "  creating the back office's officers, one per role (admin, ppid, pu, atasan, teknisi) ...",
    "  setting the OPDs and the places of the kiosk and its nodes at the central ...",
)


def demo_argv(demo_dir: Path, kiosk_port: int, central_port: int) -> list[str]:
    return [sys.executable, "-m", "gateway", "demo", "--dir", str(demo_dir),
            "--kiosk-port", str(kiosk_port), "--central-port", str(central_port)]  # fmt: skip


class Demo:
    """A demo process whose output goes to ``out`` (a file, read at any time)."""

    def __init__(self, demo_dir: Path, kiosk_port: int, central_port: int, out: Path):
        self.out = out
        self.kiosk_port = kiosk_port
        with out.open("w") as sink:
            self.proc = subprocess.Popen(demo_argv(demo_dir, kiosk_port, central_port), cwd=REPO, stdout=sink,
                                         stderr=subprocess.STDOUT)  # fmt: skip
        self.procs: set[Proc] = set()

    def output(self) -> str:
        return self.out.read_text()

    def wait_ready(self) -> None:
        """Until the demo has printed its summary and its kiosk answers."""
        wait_for("the demo's summary", lambda: "Ctrl-C stops the demo." in self.output(), 300)
        wait_for("the kiosk answering",
                 lambda: requests.get(f"http://127.0.0.1:{self.kiosk_port}/", timeout=2).ok, 120)  # fmt: skip
        self.procs = descendants(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=60) == 0, self.output()
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(timeout=60)
        end(self.procs | descendants(self.proc.pid))


def links(run_dir: Path) -> dict[str, str]:
    """The device links in a demo's run folder: name -> where each leads."""
    return {link.name: os.readlink(link) for link in sorted(run_dir.iterdir())}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_second_demo_on_the_same_folder_refuses_and_one_in_another_folder_runs(tmp_path: Path) -> None:
    first_dir, other_dir = tmp_path / "demo", tmp_path / "other"
    first = Demo(first_dir, free_port(), free_port(), tmp_path / "first.out")
    other: Demo | None = None
    try:
        first.wait_ready()
        output = first.output()
        # the first start says what it does before each slow step, then the URLs
        steps = [output.index(step) for step in FIRST_START_STEPS]
        assert steps == sorted(steps) and steps[-1] < output.index("kiosk:    http://"), output
        assert output.startswith(
            f"demo folder: {first_dir}  (first start: setting it up takes about half a minute)"
        )
        wait_for("the three device links", lambda: len(links(first_dir / "run")) == 3, 60)
        config, run_links = (first_dir / "anjungan.toml").read_bytes(), links(first_dir / "run")

        # a second demo on the same folder, on other ports (as the port-taken message suggests), refuses
        kiosk_port, central_port = free_port(), free_port()
        second = subprocess.run(demo_argv(first_dir, kiosk_port, central_port), cwd=REPO, capture_output=True,
                                text=True, timeout=60)  # fmt: skip
        assert second.returncode != 0 and second.stdout == ""
        assert second.stderr.splitlines() == [
            f"anjungan: another demo runs in {first_dir} (pid {first.proc.pid}): stop it first (Ctrl-C in its "
            f"terminal), or start this one in another folder on other ports: {HOW}"
        ]
        assert (first_dir / "anjungan.toml").read_bytes() == config
        assert links(first_dir / "run") == run_links
        assert first.proc.poll() is None

        # ... and one in another folder on those ports runs beside it
        other = Demo(other_dir, kiosk_port, central_port, tmp_path / "other.out")
        other.wait_ready()
        assert first.proc.poll() is None and links(first_dir / "run") == run_links
    finally:
        if other is not None:
            other.stop()
        first.stop()
    _a_later_start_says_where_the_passwords_went(first_dir, tmp_path)


def _a_later_start_says_where_the_passwords_went(demo_dir: Path, tmp_path: Path) -> None:
    """A later start prints no password, but one line saying where they were shown and how to issue new ones;
    the command it names gives an officer a new password."""
    again = Demo(demo_dir, free_port(), free_port(), tmp_path / "again.out")
    try:
        again.wait_ready()
    finally:
        again.stop()
    output = again.output()
    assert " password " not in output.replace("passwords:", ""), output
    db = f"sqlite:///{demo_dir / 'central' / 'central.db'}"
    line = (
        "  passwords: the officers' and the kiosk operator's were shown at the first start; a new one for an "
        f"officer: .venv/bin/anjungan central --db {db} reset-password NAME (or an admin on the Pengguna page); "
        f"for the operator: delete {demo_dir / 'central' / 'kiosk-operator.json'} and start the demo again"
    )
    assert line in output.splitlines(), output
    command = re.search(r"officer: \.venv/bin/(anjungan central .*? reset-password) NAME", line)
    assert command is not None
    argv = [sys.executable, "-m", "gateway", *command.group(1).split()[1:], "ppid"]
    reset = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0 and '"password"' in reset.stdout, reset.stderr

    # the operator's way: without its file, the next start makes and prints a new operator password
    (demo_dir / "central" / "kiosk-operator.json").unlink()
    operator = Demo(demo_dir, free_port(), free_port(), tmp_path / "operator.out")
    try:
        operator.wait_ready()
    finally:
        operator.stop()
    output = operator.output()
    assert re.search(r"kiosk operator pages: \S+ +password \S+ +\(shown only now\)", output), output
    assert "  passwords: the officers' were shown at the first start; a new one for an officer: " in output


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gateway.demo import lock_folder
    lock_folder(Path(sys.argv[1]))
    print("held", flush=True)
    time.sleep(120)
    """
)


def test_a_held_folder_is_refused_before_anything_is_written_and_free_once_its_holder_ends(
    tmp_path: Path,
) -> None:
    demo_dir = tmp_path / "demo"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(demo_dir)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert (demo_dir / "demo.lock").read_text() == f"{holder.pid}\n"
        # the ports are free: only the folder stops it, and nothing is written in the folder
        refused = subprocess.run(demo_argv(demo_dir, free_port(), free_port()), cwd=REPO, capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.splitlines() == [
            f"anjungan: another demo runs in {demo_dir} (pid {holder.pid}): stop it first (Ctrl-C in its "
            f"terminal), or start this one in another folder on other ports: {HOW}"
        ]
        assert sorted(p.name for p in demo_dir.iterdir()) == ["demo.lock"]
        (demo_dir / "demo.lock").write_text("")  # a holder that has not written its pid yet
        refused = subprocess.run(demo_argv(demo_dir, free_port(), free_port()), cwd=REPO, capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert f"another demo runs in {demo_dir} (pid unknown): " in refused.stderr
    finally:
        holder.kill()
        holder.wait(timeout=60)
        if holder.stdout is not None:
            holder.stdout.close()
    # the kernel dropped the lock with its holder: the folder is free again
    from gateway.demo import lock_folder

    fd = lock_folder(demo_dir)
    try:
        assert (demo_dir / "demo.lock").read_text() == f"{os.getpid()}\n"
    finally:
        os.close(fd)


def test_a_lock_file_that_is_a_link_is_never_followed_and_a_bad_folder_is_one_line(tmp_path: Path) -> None:
    """A demo run as root must not write its pid into what a link in the folder points to; a folder it cannot
    use, and the same port for two parts, are said in one line before anything starts."""
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (demo_dir / "demo.lock").symlink_to(victim)
    refused = subprocess.run(demo_argv(demo_dir, free_port(), free_port()), cwd=REPO, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1 and victim.read_text() == "precious\n"
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"anjungan: cannot take the demo folder {demo_dir}: ") and "--dir" in line
    other = tmp_path / "other"
    (other / "demo.lock").mkdir(parents=True)  # a lock file that is a folder
    refused = subprocess.run(demo_argv(other, free_port(), free_port()), cwd=REPO, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert (
        refused.returncode == 1
        and len(refused.stderr.splitlines()) == 1
        and "Traceback" not in refused.stderr
    )
    port = free_port()
    same = subprocess.run(demo_argv(tmp_path / "third", port, port), cwd=REPO, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert same.returncode == 1 and same.stderr.strip() == (
        f"anjungan: --kiosk-port {port} and --central-port {port}: each part of the demo needs a port of its own"
    )
    assert not (tmp_path / "third").exists()
