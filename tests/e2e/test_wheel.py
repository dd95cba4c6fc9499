"""The package as a technician's Pi gets it: a wheel installed (not editable) into a fresh virtual environment
outside the source tree flashes the firmware it carries onto a board and serves the kiosk's pages."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "test-output",
    "demo",
    "data",
    "run",
)


# the first test also pays for the module's wheel build, venv and pip install
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment holding the project's wheel (and its dependencies); yields its bin/."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)  # the build leaves nothing in the working tree
    run = {"check": True, "capture_output": True, "text": True, "timeout": 600}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(root / "dist"),
                    str(source)], **run)  # fmt: skip
    shutil.rmtree(source)
    (wheel,) = (root / "dist").glob("anjungan-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], **run)
    subprocess.run([str(root / "venv/bin/python"), "-m", "pip", "install", "--quiet", str(wheel)], **run)
    yield root / "venv" / "bin"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_installed_package_is_not_the_source_tree(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "python"), "-c", "import gateway, kiosk; print(gateway.__file__)"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip().startswith(str(installed.parent)), out.stdout


def test_node_flash_from_the_wheel_copies_every_firmware_file(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "anjungan.toml"
    config.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')
    board = subprocess.Popen(
        [str(installed / "anjungan"), "node", "simulate", "--node-id", "pkg-blank", "--blank",
         "--dir", str(tmp_path / "board"), "--interval", "1"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert board.stdout is not None
        link = board.stdout.readline().strip()
        assert link, board.stderr.read() if board.stderr else ""
        flash = subprocess.run(
            [str(installed / "anjungan"), "--config", str(config), "node", "flash", "--port", link,
             "--node-id", "pkg-pw-01", "--kind", "power", "--interval", "1"],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        board.send_signal(signal.SIGTERM)
        board.communicate(timeout=10)
    assert flash.returncode == 0, flash.stdout + flash.stderr
    sources = sorted(FIRMWARE.glob("*.py"))
    assert f"copied {len(sources) + 1} files, skipped 0 unchanged" in flash.stdout
    assert "pkg-pw-01 is alive" in flash.stdout
    for source in sources:
        assert (tmp_path / "board" / source.name).read_bytes() == source.read_bytes(), source.name


def test_the_kiosk_from_the_wheel_serves_its_pages_assets_and_translations(
    installed: Path, tmp_path: Path
) -> None:
    config = tmp_path / "anjungan.toml"
    anjungan = [str(installed / "anjungan"), "--config", str(config)]
    subprocess.run([*anjungan, "init", "--sample-content", "--data-dir", str(tmp_path / "data")],
                   cwd=tmp_path, env=_env(), check=True, capture_output=True, timeout=60)  # fmt: skip
    port = _free_port()
    kiosk = subprocess.Popen([*anjungan, "kiosk", "--port", str(port)], cwd=tmp_path, env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                home = urllib.request.urlopen(base + "/", timeout=5).read().decode()
                break
            except OSError:
                assert kiosk.poll() is None and time.monotonic() < deadline, "the kiosk did not start"
                time.sleep(0.2)
        assert "Informasi" in home
        for asset in ("kiosk.css", "kiosk.js", "keyboard.js"):
            assert urllib.request.urlopen(f"{base}/static/{asset}", timeout=5).status == 200
        english = urllib.request.Request(base + "/", headers={"Cookie": "lang=en"})
        assert "Information" in urllib.request.urlopen(english, timeout=5).read().decode()
    finally:
        kiosk.send_signal(signal.SIGTERM)
        kiosk.communicate(timeout=10)
