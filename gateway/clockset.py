"""``anjungan clock``: the system's side of a Pi with no RTC (the gateway's own handling is gateway/store/clock.py).

- The time is saved every hour and at shutdown and restored at boot by Debian's ``fake-hwclock`` (installed
  and timed by hardware/install-pi.sh: fake-hwclock.service, anjungan-clock-save.timer), so a Pi boots with the
  time it last saved instead of 1970.
- ``anjungan clock from-central`` (anjungan-clock-central.timer, every 15 min, as root with CAP_SYS_TIME only)
  takes the central's time (``GET /api/v1/time``) when NTP has not synchronized the clock: over a link that
  lets HTTP through but not NTP, or before NTP answers. Only a plausible time is taken (:func:`check_plausible`):
  a finite number, not before this release (``gateway.RELEASE_DATE``), and not more than :data:`MAX_AHEAD_S`
  ahead of the clock or of the time last saved (a Pi switched off longer needs ``--allow-large-step``), so that
  a wrong central, or anyone on the path of an ``http://`` link, cannot throw the clock (and every record and
  certificate check after it) into another year. The whole question is bounded by :data:`DEADLINE_S` (as
  ``anjungan doctor``'s checks), however slowly the answer drips in.
- ``anjungan clock status`` and ``anjungan doctor`` show the technician when the clock is not known good.
"""

from __future__ import annotations

import calendar
import json
import math
import shutil
import subprocess
import time
from pathlib import Path

import click

from gateway import RELEASE_DATE
from gateway.clicontext import pass_config
from gateway.config import Config
from gateway.deadline import within
from gateway.doctor import (
    NET_DEADLINE_S,
    NET_TIMEOUT_S,
    kernel_clock_synchronized,
    network_errors,
    network_reason,
)
from gateway.errors import AnjunganError

# the most the central's time may lead the clock (and the time last saved) without --allow-large-step
MAX_AHEAD_S = 366 * 86400
DEADLINE_S = NET_DEADLINE_S  # the whole question to the central, from the connection to the last byte
SAVED_TIME = Path("/etc/fake-hwclock.data")  # fake-hwclock's saved time: "YYYY-MM-DD HH:MM:SS", UTC
STEP_MIN_S = 2.0  # a smaller difference is left to NTP's slewing (or is the link's delay)
# The installed `anjungan` wrapper runs commands as the service user, which may not set the clock: the unit
# anjungan-clock-central.service runs `clock from-central` with CAP_SYS_TIME.
TAKE_CENTRAL_TIME = "run `sudo systemctl start anjungan-clock-central` (it sets the clock as root)"


def central_time(
    url: str, timeout_s: float = NET_TIMEOUT_S, deadline_s: float = DEADLINE_S
) -> tuple[float, float]:
    """(the central's time, the local time at the middle of the request), both unix seconds.

    ``timeout_s`` bounds each connect and read, ``deadline_s`` the whole request. Raises AnjunganError when the
    central cannot be reached in time or its answer is not a finite number of seconds (``{"time": <number>}``).
    """
    import requests

    def ask() -> bytes:
        with requests.get(url.rstrip("/") + "/api/v1/time", timeout=timeout_s, stream=True,
                          headers={"Accept-Encoding": "identity"}) as answer:  # fmt: skip
            answer.raise_for_status()
            return bytes(answer.raw.read(64 << 10, decode_content=False))  # 64 KiB at most, never unpacked

    # TimeoutError is an OSError; ValueError: the answer is not the time
    failures: tuple[type[BaseException], ...] = (*network_errors(), ValueError)
    started = time.time()
    try:
        body = within(deadline_s, ask)
        central = _time_of(body)
    except failures as err:
        raise AnjunganError(f"cannot read the central's time from {url}: {network_reason(err)[1]}") from err
    return central, (started + time.time()) / 2


def _time_of(body: bytes) -> float:
    """The ``time`` of the central's answer: a JSON number (not a boolean or a text), finite. ValueError if not."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise ValueError(f"the answer is not JSON: {body[:60]!r}") from None
    value = answer.get("time") if isinstance(answer, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the answer holds no time in seconds: {body[:60]!r}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError(f"the answer's time is not a finite number: {body[:60]!r}")
    return seconds


def release_floor() -> float:
    """The start of ``gateway.RELEASE_DATE`` (UTC), unix seconds: no correct clock running this release is earlier."""
    return float(calendar.timegm(time.strptime(RELEASE_DATE, "%Y-%m-%d")))


def saved_time(path: Path = SAVED_TIME) -> float | None:
    """The time fake-hwclock last saved (unix seconds), or None when there is none or it cannot be read."""
    try:
        return float(calendar.timegm(time.strptime(path.read_text().strip(), "%Y-%m-%d %H:%M:%S")))
    except (OSError, ValueError):
        return None


def _utc(seconds: float) -> str:
    """``seconds`` (unix) as a UTC date and time, or as seconds when no calendar date holds it (1e300)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.6g} s after 1970"


def check_plausible(central: float, local: float, saved: float | None, *, allow_large_step: bool) -> None:
    """Refuse a central time that cannot be right: before this release (never taken), or more than
    :data:`MAX_AHEAD_S` ahead of the later of the local clock, the saved time and the release (taken only with
    ``allow_large_step``: a Pi that was switched off that long). All times unix seconds. Raises AnjunganError
    saying which and what to do; the clock is then left as it is.
    """
    floor = release_floor()
    if central < floor:
        raise AnjunganError(
            f"the central's time ({_utc(central)}) is before this release ({RELEASE_DATE}): the central's clock "
            "is wrong; the clock is left as it is (ask the central's administrator to check it)"
        )
    reference = max(local, saved if saved is not None else floor, floor)
    ahead = central - reference
    if ahead > MAX_AHEAD_S and not allow_large_step:
        raise AnjunganError(
            f"the central's time ({_utc(central)}) is {ahead / 86400:.0f} days ahead of this clock "
            f"({_utc(reference)}): refused, the clock is left as it is; if this Pi really was switched off that "
            f"long, take it as root with `sudo {_program()} clock from-central --allow-large-step` (this program "
            "itself: the `anjungan` wrapper runs as the service user, which may not set the clock)"
        )


def _program() -> str:
    """The ``anjungan`` program of the environment running now (beside its Python: on a Pi, the release's, not
    the ``/usr/local/bin`` wrapper), for a command the technician must run as root; ``anjungan`` if none."""
    import sys

    program = Path(sys.executable).parent / "anjungan"
    return str(program) if program.is_file() else "anjungan"


@click.group("clock")
def clock_group() -> None:
    """The system clock: is it known good, and take the central's time when NTP is unreachable."""


@clock_group.command("status")
@pass_config
def status_command(cfg: Config) -> None:
    """Say whether the clock is known good (NTP, or agreeing with the central); exit 1 when it is not."""
    synced = kernel_clock_synchronized()
    click.echo(f"time now: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    if synced:
        click.echo("clock known good: synchronized by NTP")
        return
    if not cfg.central.url:
        raise AnjunganError("clock NOT known good: NTP has not synchronized it and no central is configured")
    central, local = central_time(cfg.central.url)
    check_plausible(central, local, saved_time(), allow_large_step=True)
    off = central - local
    if abs(off) < 60:
        click.echo(f"clock agrees with the central's ({off:+.1f} s); NTP has not synchronized it")
        return
    raise AnjunganError(f"clock NOT known good: {off:+.0f} s off the central's; {TAKE_CENTRAL_TIME}")


@clock_group.command("from-central")
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option("--even-if-synchronized", is_flag=True, help="Take the central's time even when NTP claims to "
              "keep the clock (a wrong NTP server).")  # fmt: skip
@click.option("--allow-large-step", is_flag=True, help="Take the central's time even when it is more than a "
              "year ahead of the clock and of the time last saved (a Pi switched off that long).")  # fmt: skip
@click.option("--if-configured", is_flag=True, help="Without a central configured, say so and exit 0 (the "
              "timer's unit: not a failure every 15 min before the central is set up).")  # fmt: skip
@pass_config
def from_central_command(
    cfg: Config, dry_run: bool, even_if_synchronized: bool, allow_large_step: bool, if_configured: bool
) -> None:
    """When NTP has not synchronized the clock, set it from the central's (needs root or CAP_SYS_TIME).

    Only a plausible time is taken (see gateway/clockset.py); the question is bounded to 15 s in all.
    """
    if not even_if_synchronized and kernel_clock_synchronized():
        click.echo("NTP keeps the clock synchronized: nothing to do")
        return
    if not cfg.central.url:
        if if_configured:
            click.echo("no central configured ([central] url): nothing to take the time from")
            return
        raise AnjunganError("no central configured ([central] url): nothing to take the time from")
    central, local = central_time(cfg.central.url)
    check_plausible(central, local, saved_time(), allow_large_step=allow_large_step)
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
