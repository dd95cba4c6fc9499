"""One sync round, and the loop of ``anjungan sync run``.

A round: learn the clock if due (never learned, an hour old, or no longer holding because the wall clock
was stepped: then at once, without waiting for the interval), purge personal data already acknowledged and pay a
TRUNCATE checkpoint still owed (also every few seconds while idle), upload every stream (see
:mod:`sync.client.uplink`), pull the central's changes and fetch missing documents' files (see
:mod:`sync.client.downlink`). A skew refusal corrects the clock from the central's time and repeats the round
once. Transient failures are retried with full-jitter exponential backoff (:mod:`gateway.backoff`).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway import faults, sdnotify, upgrade
from gateway.backoff import Backoff
from gateway.config import Config
from gateway.errors import StoreError
from gateway.store import Store
from gateway.store.clock import SystemClock
from sync.client import downlink, report
from sync.client.clock import Clock
from sync.client.errors import (
    ClockSkewRefused,
    CredentialError,
    NotConfigured,
    SyncError,
    TransientError,
    UnreachableError,
)
from sync.client.transport import CentralLink
from sync.client.uplink import ACK_HOLD_ROUNDS, ROUTINE_EVENTS, ROUTINE_HOLD_ROUNDS, Progress, Uplink

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often an idle loop looks for new backlog (at most; a thirtieth of a shorter interval)
CREDENTIALS_REFUSED = "credentials_refused"  # meta key: when and why the central last refused our credentials
READINGS_WAKE = 1000  # readings pending that start a round before the interval is over


@dataclass
class Settings:
    url: str
    gateway_id: str
    secret: str
    data_dir: Path
    interval_s: float = 60.0
    batch_max: int = 20_000
    backoff_cap_s: float = 900.0
    backoff_base_s: float = 1.0
    timeout_s: float = 60.0
    water_alert_cm: float | None = None  # the kiosk's serta-merta thresholds, reported to the central
    mains_min_v: float | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Settings:
        if not cfg.central.url:
            raise NotConfigured("no central configured: set [central] url (and gateway_id, secret)")
        if not cfg.central.gateway_id or not cfg.central.secret:
            raise NotConfigured("no credentials for the central: set [central] gateway_id and secret")
        return cls(
            url=cfg.central.url,
            gateway_id=cfg.central.gateway_id,
            secret=cfg.central.secret,
            data_dir=cfg.data_dir,
            interval_s=cfg.sync.interval_s,
            batch_max=cfg.sync.batch_max,
            backoff_cap_s=cfg.sync.backoff_cap_s,
            backoff_base_s=cfg.sync.backoff_base_s,
            timeout_s=cfg.sync.timeout_s,
            water_alert_cm=cfg.kiosk.water_alert_cm,
            mains_min_v=cfg.kiosk.mains_min_v,
        )

    def health(self) -> dict[str, Any]:
        """The configuration's part of the health report (``X-Anjungan-Health``)."""
        return {"sync_s": int(self.interval_s), "water_alert_cm": self.water_alert_cm,
                "mains_min_v": self.mains_min_v}  # fmt: skip


@dataclass
class RoundResult:
    uploaded: int = 0
    changes: int = 0
    files: int = 0
    clock_offset_ms: int | None = None
    errors: list[str] = field(default_factory=list)


class SyncClient:
    """The gateway's side of the sync; ``close()`` it (or use it as a context manager)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        on_acked: Progress | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: SystemClock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        notifier: sdnotify.Notifier | None = None,
    ):
        """``sleep(seconds)`` waits (default: :attr:`stop`'s wait, true when stopped) and ``monotonic()`` measures
        the waits (seconds); ``notifier`` feeds systemd's watchdog (default: this process's, from the
        environment), also while the loop waits (gateway/sdnotify.py). Tests inject all three."""
        self.store = store
        self.settings = settings
        self.stop = stop or threading.Event()
        self.clock = Clock(store, clock)
        self.central = CentralLink(
            settings.url,
            settings.gateway_id,
            settings.secret,
            now=self.clock.now,
            timeout_s=settings.timeout_s,
        )
        self.uplink = Uplink(store, self.central, batch_max=settings.batch_max, on_acked=on_acked)
        self.backoff = Backoff(settings.backoff_base_s, settings.backoff_cap_s, jitter=True)
        self._wait = sleep or self.stop.wait
        self._monotonic = monotonic
        self.notifier = notifier or sdnotify.notifier()
        self._purge_mark: tuple[int, int | None] | None = None  # the store's purges at the last backup scrub
        # the health headers: when they changed, else every few rounds (sync/client/report.py)
        self.reporter = report.Reporter(
            report.REPORT_EVERY_ROUNDS, report.REPORT_MAX_INTERVALS * settings.interval_s, monotonic
        )

    def close(self) -> None:
        self.central.close()

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (an idle slice, a back-off), feeding the watchdog meanwhile; True when stopped."""
        return self.notifier.wait(seconds, self._wait)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one round -------------------------------------------------------------------------------------------
    def round(self) -> RoundResult:
        """One round; raises the client's errors (TransientError and CredentialError above all).

        A refusal of our credentials is kept in meta ``credentials_refused`` ("<time> <message>") until a
        round succeeds, for ``sync status``; nothing is purged or dropped meanwhile.
        """
        try:
            try:
                result = self._round()
            except ClockSkewRefused as err:
                if err.server_time is None:
                    raise
                log.warning("%s; correcting the clock and trying again", err)
                self.clock.correct_from(err.server_time)
                result = self._round()
        except CredentialError as err:
            self.store.set_meta(CREDENTIALS_REFUSED, f"{_stamp()} {err}")
            raise
        if self.store.get_meta(CREDENTIALS_REFUSED) is not None:
            self.store.set_meta(CREDENTIALS_REFUSED, None)
        return result

    def _round(self) -> RoundResult:
        faults.point("sync.round")
        result = RoundResult()
        stopping = self.stop.is_set
        if self.clock.due():
            try:
                result.clock_offset_ms = self.clock.learn(self.central).offset_ms
            except TransientError as err:
                log.warning("clock not learned: %s", err)
                result.errors.append(str(err))
        # in case a crash came between an acknowledgement and its purge
        self.store.purge_personal(self.store.acked("submissions"))
        self.settle_checkpoint()  # a purge's checkpoint that a reader held up in an earlier round
        result.uploaded = self.uplink.drain(stopping)
        if not stopping():  # everything was sent: an earlier error is history, not the state of a stream
            self.store.clear_sync_errors()
        try:
            result.changes = downlink.pull_changes(
                self.store, self.central, stopping, self.settings.health(), self.reporter
            )
            result.files = downlink.fetch_files(self.store, self.central, self.settings.data_dir, stopping)
        except SyncError as err:
            self.store.set_meta("downlink_last_error", f"{_stamp()} {err}")
            raise
        self.settle_checkpoint()  # lookups forgotten while the round ran
        self.scrub_backups()
        return result

    def run_once(self, attempts: int = 5) -> RoundResult:
        """A round, retried after transient failures (with backoff) up to ``attempts`` times."""
        for attempt in range(1, attempts + 1):
            try:
                result = self.round()
            except TransientError as err:
                if attempt == attempts or self.stop.is_set():
                    raise
                delay = self.backoff.next(err.retry_after)
                log.warning("%s; retrying in %.1f s", err, delay)
                self._sleep(delay)
                continue
            self.backoff.reset()
            return result
        raise AssertionError("unreachable")

    # -- the loop --------------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        """Rounds until :attr:`stop` is set: every ``interval_s``, earlier when there is backlog.

        It first waits for the central to answer at all (:meth:`wait_for_central`). After failed rounds, the
        first round that succeeds says so in one line (how many failed, for how long).
        """
        self.wait_for_central()
        # routine events ride along with other events, or go once ROUTINE_HOLD_ROUNDS intervals old
        self.uplink.hold_routine_s = ROUTINE_HOLD_ROUNDS * self.settings.interval_s
        self.uplink.hold_acks_s = ACK_HOLD_ROUNDS * self.settings.interval_s  # see ACK_HOLD_ROUNDS
        try:
            self._loop()
        finally:
            self.store.write_held_acks()

    def _loop(self) -> None:
        failed, since = 0, 0.0
        while not self.stop.is_set():
            self.notifier.ping()  # systemd's watchdog: a round stuck longer than WatchdogSec stops the pings
            try:
                self.round()
            except (TransientError, ClockSkewRefused) as err:
                failed, since = failed + 1, since or time.monotonic()
                delay = self.backoff.next(getattr(err, "retry_after", None))
                log.warning("sync failed: %s; next attempt in %.0f s", err, delay)
                self._sleep(delay)
                continue
            except SyncError as err:  # credentials: a person must act; keep trying slowly, say it plainly
                failed, since = failed + 1, since or time.monotonic()
                delay = self.backoff.next()
                log.error("%s", err)
                self._sleep(max(delay, min(self.settings.interval_s, self.settings.backoff_cap_s)))
                continue
            give_back_memory()  # a round's batches are garbage now
            if failed:
                log.info(
                    "sync works again after %d failed round(s) in %.0f s", failed, time.monotonic() - since
                )
                failed, since = 0, 0.0
            self.backoff.reset()
            self._idle()

    def wait_for_central(self) -> None:
        """Wait (quietly: one line) until the central answers ``GET /api/v1/time`` at all, or :attr:`stop`.

        A sync started before its central (the demo starts them together; a Pi boots before its link) would
        otherwise log a failed round, and its uplink's complaints, before there was anything to complain of.
        A central that answers, however badly, ends the wait: the rounds then say what is wrong.
        """
        waiting = False
        while not self.stop.is_set():
            try:
                self.central.get_json("/api/v1/time", signed=False)
            except UnreachableError as err:
                if not waiting:
                    log.info("waiting for the central at %s to answer (%s)", self.settings.url, err)
                    waiting = True
                self._sleep(self.backoff.next())
                continue
            except SyncError:
                pass
            if waiting:
                log.info("the central at %s answers", self.settings.url)
            self.backoff.reset()
            return

    def settle_checkpoint(self) -> bool:
        """Pay an owed TRUNCATE checkpoint (purged personal data or a relayed lookup's code still in the WAL);
        True when none is owed any more. A store error is logged, not raised: the next try comes soon."""
        try:
            return self.store.settle_checkpoint()
        except StoreError as err:
            log.warning("checkpoint not completed: %s", err)
            return False

    def scrub_backups(self) -> None:
        """Purged means gone from the upgrade's backups too (gateway/upgrade.py): after the first round of this
        process, and after each round in which the store purged personal data (a purge stamps ``purged_at``),
        purge from every backup what the store no longer holds. A failure is logged; the next round tries
        again."""
        mark = self.store.purge_mark()
        if mark == self._purge_mark:
            return
        try:
            upgrade.scrub_backups(
                self.settings.data_dir / upgrade.BACKUP_FOLDER, self.store.holding_personal()
            )
        except StoreError as err:
            log.warning("%s", err)
            return
        self._purge_mark = mark

    def _idle(self) -> None:
        deadline = self._monotonic() + self.settings.interval_s
        while not self.stop.is_set():
            self.settle_checkpoint()  # every few seconds until a reader that held it up lets go
            left = deadline - self._monotonic()
            if left <= 0 or self.wants_round() or self.clock.check() or self.clock.dropped:
                return  # (a stepped wall clock: learn the offset again at once)
            self._sleep(min(POLL_S, self.settings.interval_s / 30, left))

    def wants_round(self) -> bool:
        """New submissions, events other than ROUTINE_EVENTS, a batch's worth of readings, or dead letters to
        send again are waiting (routine events and a few readings go with the round of the interval)."""
        pending = self.store.pending_estimate()
        if pending["submissions"] or pending["readings"] >= READINGS_WAKE:
            return True
        if pending["events"] and self.store.has_events_except(self.store.acked("events"), ROUTINE_EVENTS):
            return True
        return self.store.dead_letter_retry_wanted()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


def give_back_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; nothing elsewhere): the memory of
    a round's batches (up to ``batch_max`` records, their JSON and its compression) is freed by Python but
    stays in the process's resident set until then, between rounds a minute apart."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
