"""``anjungan clock``: the system's side of a Pi with no RTC (the gateway's own handling is gateway/store/clock.py).

- The time is saved every hour and at shutdown and restored at boot by Debian's ``fake-hwclock`` (installed
  and timed by hardware/install-pi.sh: fake-hwclock.service, anjungan-clock-save.timer), so a Pi boots with the
  time it last saved instead of 1970.
- ``anjungan clock from-central`` (anjungan-clock-central.timer, every 15 min, as root with CAP_SYS_TIME only)
  takes the central's time (``GET /api/v1/time``) when NTP has not synchronized the clock: over a link that
  lets HTTP through but not NTP, or before NTP answers.
- ``anjungan clock status`` and ``anjungan doctor`` show the technician when the clock is not known good.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import click

from gateway.clicontext import pass_config
from gateway.doctor import kernel_clock_synchronized
from gateway.errors import AnjunganError

STEP_MIN_S = 2.0  # a smaller difference is left to NTP's slewing (or is the link's delay)
# The installed `anjungan` wrapper runs commands as the service user, which may not set the clock: the unit
# anjungan-clock-central.service runs `clock from-central` with CAP_SYS_TIME.
TAKE_CENTRAL_TIME = "run `sudo systemctl start anjungan-clock-central` (it sets the clock as root)"


def central_time(url: str, timeout_s: float = 10.0) -> tuple[float, float]:
    """(the central's time, the local time at the middle of the request), both unix seconds.

    Raises AnjunganError when the central cannot be reached or its answer is not a time.
    """
    import requests

    started = time.time()
    try:
        with requests.get(url.rstrip("/") + "/api/v1/time", timeout=timeout_s, stream=True,
                          headers={"Accept-Encoding": "identity"}) as answer:  # fmt: skip
            answer.raise_for_status()
            body = answer.raw.read(64 << 10, decode_content=False)  # 64 KiB at most, never unpacked
        central = float(json.loads(body)["time"])
    except (requests.RequestException, ValueError, KeyError, TypeError, OSError) as err:
        raise AnjunganError(f"cannot read the central's time from {url}: {err}") from err
    return central, (started + time.time()) / 2


@click.group("clock")
def clock_group() -> None:
    """The system clock: is it known good, and take the central's time when NTP is unreachable."""


@clock_group.command("status")
@pass_config
def status_command(cfg: Any) -> None:
    """Say whether the clock is known good (NTP, or agreeing with the central); exit 1 when it is not."""
    synced = kernel_clock_synchronized()
    click.echo(f"time now: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    if synced:
        click.echo("clock known good: synchronized by NTP")
        return
    if not cfg.central.url:
        raise AnjunganError("clock NOT known good: NTP has not synchronized it and no central is configured")
    central, local = central_time(cfg.central.url)
    off = central - local
    if abs(off) < 60:
        click.echo(f"clock agrees with the central's ({off:+.1f} s); NTP has not synchronized it")
        return
    raise AnjunganError(f"clock NOT known good: {off:+.0f} s off the central's; {TAKE_CENTRAL_TIME}")


@clock_group.command("from-central")
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option("--even-if-synchronized", is_flag=True, help="Take the central's time even when NTP claims to "
              "keep the clock (a wrong NTP server).")  # fmt: skip
@pass_config
def from_central_command(cfg: Any, dry_run: bool, even_if_synchronized: bool) -> None:
    """When NTP has not synchronized the clock, set it from the central's (needs root or CAP_SYS_TIME)."""
    if not even_if_synchronized and kernel_clock_synchronized():
        click.echo("NTP keeps the clock synchronized: nothing to do")
        return
    if not cfg.central.url:
        raise AnjunganError("no central configured ([central] url): nothing to take the time from")
    central, local = central_time(cfg.central.url)
    step = central - local
    if abs(step) < STEP_MIN_S:
        click.echo(f"the clock agrees with the central's ({step:+.1f} s): nothing to do")
        return
    if dry_run:
        click.echo(f"would step the clock by {step:+.0f} s to the central's time")
        return
    try:
        time.clock_settime(time.CLOCK_REALTIME, time.time() + step)
    except PermissionError as err:
        raise AnjunganError(f"setting the clock needs root (CAP_SYS_TIME): {TAKE_CENTRAL_TIME}") from err
    click.echo(f"stepped the clock by {step:+.0f} s to the central's time")
    if shutil.which("fake-hwclock"):
        subprocess.run(["fake-hwclock", "save", "force"], check=False, timeout=30)
