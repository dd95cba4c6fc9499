"""hardware/install-pi.sh run for real in a Debian Bookworm root made by debootstrap, up to enabling the units.

The root stands for a fresh Raspberry Pi OS Lite (Bookworm): Debian's minimal base plus what that image ships
(systemd, udev, dbus, python3, sudo). It is made once and kept as a tarball in the cache folder (``.cache/`` at
the repository root, git-ignored, or ``$ANJUNGAN_TEST_CACHE``), together with the downloaded Debian packages and
the wheels, so that a repeat run unpacks it and installs from local files (about 3 minutes; the first run about
6). Every run installs into a fresh copy: the Debian packages, users, release, configuration, broker and units
are all made by the script itself. Needs root and debootstrap, as CI has (`make system-deps`); without them the
test fails and says so, never skips.

No systemd runs inside the root (policy-rc.d forbids starting daemons, as in any image build), so the script
enables the units and stops there; `systemd-analyze verify` then checks every unit inside the root, where its
binaries and users exist.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ANJUNGAN_TEST_CACHE", REPO / ".cache")) / "debootstrap"
BASE_TAR = CACHE / "bookworm-base.tar"
MIRROR = os.environ.get("ANJUNGAN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# what Raspberry Pi OS Lite has that Debian's minimal base lacks, and that the script relies on
IMAGE_PACKAGES = "systemd,systemd-sysv,udev,dbus,python3,sudo,iproute2,ca-certificates,cron"
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", ".cache", "__pycache__", "*.egg-info", "build", "data",
                                     "demo", "run", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache")  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _require_root_and_debootstrap() -> None:
    if os.geteuid() != 0:
        pytest.fail("the install test needs root (it runs debootstrap and chroot, as CI does)")
    if shutil.which("debootstrap") is None:
        pytest.fail("the install test needs debootstrap: run `make system-deps` as root")


def _run(argv: list[str], timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise AssertionError(
            f"{argv[:4]} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done


def _base_tarball() -> Path:
    """The cached base root (debootstrap + the image's packages), made on first use."""
    if BASE_TAR.exists():
        return BASE_TAR
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / "base-build"
    if build.exists():
        _run(["rm", "-rf", "--one-file-system", str(build)])
    _run(["debootstrap", "--variant=minbase", f"--include={IMAGE_PACKAGES}", "bookworm", str(build), MIRROR])
    policy = build / "usr/sbin/policy-rc.d"  # an image being built: packages never start daemons
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (build / "var/cache/apt/archives").mkdir(parents=True, exist_ok=True)
    _run(["tar", "-C", str(build), "-cf", f"{BASE_TAR}.partial", "."])
    os.replace(f"{BASE_TAR}.partial", BASE_TAR)
    _run(["rm", "-rf", "--one-file-system", str(build)])
    return BASE_TAR


def _wheelhouse() -> Path:
    """anjungan's wheel (built now, from this tree) and its dependencies' wheels (kept between runs)."""
    house = CACHE / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    for old in house.glob("anjungan-*.whl"):
        old.unlink()
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(house), "--find-links", str(house),
          str(REPO)], timeout=900)  # fmt: skip
    return house


@pytest.fixture(scope="module")
def installed_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    _require_root_and_debootstrap()
    tarball = _base_tarball()
    house = _wheelhouse()
    root = tmp_path_factory.mktemp("pi") / "root"
    root.mkdir()
    _run(["tar", "-C", str(root), "-xf", str(tarball)])
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    shutil.copytree(REPO, root / "src/anjungan", ignore=COPY_IGNORE)
    archives = CACHE / "apt-archives"
    archives.mkdir(exist_ok=True)
    (root / "wheelhouse").mkdir()
    mounts = [
        (["-t", "proc", "proc"], root / "proc"),
        (["--bind", str(archives)], root / "var/cache/apt/archives"),
        (["--bind", "-o", "ro", str(house)], root / "wheelhouse"),
    ]
    mounted: list[Path] = []
    try:
        for args, target in mounts:
            _run(["mount", *args, str(target)])
            mounted.append(target)
        yield root
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _install(root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/root"}  # fmt: skip
    argv = ["chroot", str(root), "/bin/bash", "/src/anjungan/hardware/install-pi.sh", "--wheelhouse",
            "/wheelhouse", "--gateway-id", "dmk-uji", "--name", "Desa Uji"]  # fmt: skip
    return _run(argv, env=env, timeout=1500)


def _mode(path: Path) -> tuple[str, str, str]:
    info = path.stat()  # numeric ids: the names live in the root's /etc/passwd, not this machine's
    return oct(stat.S_IMODE(info.st_mode)), str(info.st_uid), str(info.st_gid)


def _ids(root: Path, name: str) -> tuple[str, str]:
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    return passwd[name][2], passwd[name][3]


def test_install_from_fresh_bookworm_then_again_changes_nothing(installed_root: Path) -> None:
    root = installed_root
    first = _install(root)
    assert any(line.startswith("changed: ") for line in first.stdout.splitlines())
    assert "units are enabled and start at the next boot" in first.stdout

    # the layout: the release in /opt, the configuration 0640 to the service group, the data 0700
    uid, gid = _ids(root, "anjungan")
    release = Path(os.readlink(root / "opt/anjungan/current"))  # absolute inside the root
    assert release.parent == Path("/opt/anjungan/releases")
    assert (root / release.relative_to("/") / "bin/anjungan").exists()
    config = root / "etc/anjungan/gateway.toml"
    assert _mode(config) == ("0o640", "0", gid)
    assert 'id = "dmk-uji"' in config.read_text()
    assert _mode(root / "var/lib/anjungan") == ("0o700", uid, gid)
    assert _mode(root / "var/lib/anjungan/anjungan.db") == ("0o600", uid, gid)
    assert _mode(root / "etc/anjungan/mqtt.env") == ("0o640", "0", gid)
    # the broker: the nodes' network and this machine only, no anonymous clients, the ingest's user
    broker = (root / "etc/mosquitto/conf.d/anjungan.conf").read_text()
    assert "allow_anonymous false" in broker and "bind_interface" not in broker  # starts whatever wlan0 is
    assert (
        '"lo", "wlan0"' in (root / "etc/anjungan/mqtt-firewall.nft").read_text()
    )  # reachable from these only
    assert (
        "Requires=anjungan-mqtt-firewall.service"
        in (root / "etc/systemd/system/mosquitto.service.d/anjungan.conf").read_text()
    )
    assert "anjungan-ingest:" in (root / "etc/mosquitto/anjungan.passwd").read_text()
    assert (root / "etc/udev/rules.d/99-anjungan-nodes.rules").exists()
    assert (root / "etc/systemd/journald.conf.d/anjungan.conf").exists()
    # enabled units (no central configured yet: sync waits for one)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in (
        "anjungan-ingest",
        "anjungan-kiosk",
        "anjungan-screen",
        "mosquitto",
        "anjungan-mqtt-firewall",
    ):
        assert (wants / f"{unit}.service").is_symlink(), unit
    assert not (wants / "anjungan-sync.service").exists()
    # the clock: restored at boot and saved at shutdown (fake-hwclock), saved hourly, the central's when no NTP
    timers = root / "etc/systemd/system/timers.target.wants"
    assert (timers / "anjungan-clock-save.timer").is_symlink()
    assert (timers / "anjungan-clock-central.timer").is_symlink()
    assert (root / "sbin/fake-hwclock").exists()
    assert "sync not enabled" in first.stdout
    log = (root / "var/log/anjungan-install.log").read_text()
    assert "changed: /etc/systemd/system/anjungan-ingest.service" in log

    # the installed command works, as the technician types it
    version = _run(["chroot", str(root), "/usr/local/bin/anjungan", "--version"])
    assert "anjungan" in version.stdout

    # every unit passes systemd-analyze verify where its binaries and users exist
    units = sorted(p.name for p in (root / "etc/systemd/system").glob("anjungan-*.*"))
    assert {"anjungan-ingest.service", "anjungan-kiosk.service", "anjungan-sync.service"} <= set(units)
    verify = subprocess.run(
        ["chroot", str(root), "systemd-analyze", "verify", *[f"/etc/systemd/system/{u}" for u in units]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # idempotent: a second run changes nothing and says so
    second = _install(root)
    assert not any(line.startswith("changed: ") for line in second.stdout.splitlines()), second.stdout
    assert "nothing changed" in second.stdout
