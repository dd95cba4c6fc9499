"""Sending the SMS queue: each message once, retried with backoff, at most ``sms_daily_cap`` per number a day.

One round (:func:`send_due`) takes the due messages oldest first. Each is claimed in its own transaction
(``pending`` -> ``sending``, a conditional UPDATE: of several workers only one wins it), sent, then marked
``sent`` with its reference. A failure puts it back to ``pending`` with the next attempt after an exponential
pause (:func:`gateway.backoff.pause_after`: ``sms_backoff_base_s`` doubling up to ``sms_backoff_cap_s``); after
``sms_max_attempts`` it is ``failed`` and listed in the back office, whose retry button queues it again.

Sent at most once: a message found ``sending`` by a later round, once its claim's lease ran out
(:func:`lease_ms`, longer than a whole send can take; or at once when its worker, on this host, is gone) (the worker was stopped or crashed between the
claim and the result, so the modem or gateway may have sent it) is never sent again by itself: it becomes
``failed`` with the error "interrupted", and an officer decides (a retry from the back office sends it again).
A message the modem took (text and Ctrl-Z written) but never confirmed, or whose HTTP request went out with
no answer (read timeout, connection cut) (:class:`~sync.central.sms.senders.MaybeSent`), is treated the same
way: ``failed``, "may have been sent", never retried by itself, and counted toward the daily cap; only failures
known to be before sending are retried. A restart therefore sends nothing twice. The HTTP sender also passes
the message's key (``Idempotency-Key``, ``{key}``), which few gateways honour: nothing relies on it. Every
failure keeps its kind (``error_kind``, :data:`~sync.central.sms.senders.KINDS`) beside its raw text.

The daily cap counts the messages sent, or that may have been sent, to the same number (its keyed hash) on the
office's day (WIB), and one being sent; one over the cap waits until the next day. Counting and claiming run under the write lock (SQLite)
or an advisory lock per number (PostgreSQL), so workers running at once never pass the cap together. The phone number is read from the submission when the message is sent, and
never reaches a log or an error (errors are scrubbed of it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from gateway.backoff import pause_after
from sync.central.backoffice.intake import OFFICE_TZ, office_date
from sync.central.db import submissions
from sync.central.sms import queue, senders
from sync.central.sms.senders import ChannelError, MaybeSent, PortBusy, Sender, SendError
from sync.central.sms.settings import SmsSettings
from sync.central.sms.tables import channels, outbox


class _Scrubbed(logging.Filter):
    """Every line this module logs, its traceback included, without a phone number (:func:`queue.scrub`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = queue.scrub(record.getMessage()), None
        if record.exc_info:
            record.exc_text = queue.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


log = logging.getLogger(__name__)
log.addFilter(_Scrubbed())
INTERRUPTED = "interrupted while sending: it may have been sent; retry only if the citizen did not get it"
BATCH = 100
_LOCK = 7020515  # PostgreSQL advisory lock class of the daily cap (the fleet's alerts use 7020514)


@dataclass
class RoundReport:
    """What one round did: ids sent, failed for now (retried later), failed for good, held by the cap."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    capped: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)
    # why the round stopped or did not start: the channel is down, or another worker holds the modem
    channel: str = ""

    def line(self) -> str:
        return (f"sms: {len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.failed)} failed, "
                f"{len(self.capped)} held by the daily cap, {len(self.dropped)} without a number"
                + (f", {len(self.interrupted)} interrupted or unconfirmed" if self.interrupted else "")
                + (f"; {self.channel}" if self.channel else ""))  # fmt: skip


def hash_key(master_key: bytes, cfg: SmsSettings) -> bytes:
    """The key of the numbers' hashes: ``sms_hash_key``, else derived from the central's master key."""
    if cfg.sms_hash_key:
        return cfg.sms_hash_key.encode()
    return hmac.new(master_key, b"sms-phone-hash", hashlib.sha256).digest()


def next_day_ms(now_ms: int) -> int:
    """The start (00:00 WIB) of the office's day after the one of ``now_ms``, in ms since the epoch."""
    tomorrow = office_date(now_ms) + timedelta(days=1)
    return int(datetime.combine(tomorrow, time(0), OFFICE_TZ).astimezone(UTC).timestamp() * 1000)


def owner() -> str:
    """Who claims a message: ``<host>:<pid>`` of this worker (kept in ``claimed_by``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_ms(cfg: SmsSettings) -> int:
    """How long a claim holds, in ms: longer than one whole send can take (a modem's send waits up to four
    times ``sms_modem_timeout_s``: the prompt, the cancelling ``AT``, the confirmation, opening the port; an HTTP
    POST 30 s), plus a minute. Only a claim older than this (or of a gone worker) is interrupted by another."""
    return int((4 * max(cfg.sms_modem_timeout_s, 30.0) + 60) * 1000)


def _gone(claimed_by: str | None) -> bool:
    """Whether the worker ``<host>:<pid>`` is known to have stopped: on this host, with no such process."""
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists
        return False
    return False


def recover(engine: Engine, now_ms: int, lease: int) -> list[int]:
    """Messages left ``sending`` by a worker that stopped: ``failed`` (:data:`INTERRUPTED`), never resent by
    themselves, and counted toward the number's daily cap on the day they were claimed. Only claims older than
    ``lease`` ms (:func:`lease_ms`), or whose worker on this host is gone, are taken: another live worker may be
    sending the others right now. Runs before every round. Answers their ids."""
    with engine.begin() as conn:
        found = conn.execute(sa.select(outbox.c.id, outbox.c.claimed_ms, outbox.c.claimed_by)
                             .where(outbox.c.state == "sending")).all()  # fmt: skip
        stale = [r for r in found if (r.claimed_ms or 0) + lease <= now_ms or _gone(r.claimed_by)]
        for row in stale:
            conn.execute(outbox.update().where(outbox.c.id == row.id, outbox.c.state == "sending")
                         .values(state="failed", last_error=INTERRUPTED, error_kind=senders.INTERRUPTED,
                                 next_ms=now_ms,
                                 sent_day=office_date(row.claimed_ms or now_ms).isoformat()))  # fmt: skip
    ids = [row.id for row in stale]
    for message_id in ids:
        log.warning("sms %d was interrupted while sending; listed as failed", message_id)
    return ids


def send_due(engine: Engine, sender: Sender, cfg: SmsSettings, key: bytes, now_ms: int,
             clock: Callable[[], int] | None = None) -> RoundReport:  # fmt: skip
    """One round: send every due message (``pending`` with ``next_ms`` <= ``now_ms``, ms since the epoch), oldest
    first. ``clock`` answers the time now (ms since the epoch), read at each claim and outcome, so that a claim
    holds from when it was made, not from the round's start (the workers pass the wall clock); without it,
    every claim is at ``now_ms``.

    When the channel itself fails (:class:`ChannelError`) the round stops, the message keeps its attempt, and
    the channel is marked down (:func:`channel_states`): the next rounds wait for it with backoff
    (``sms_backoff_base_s`` doubled to ``sms_backoff_cap_s``). When another worker holds the modem
    (:class:`PortBusy`) the round just waits for the next one."""
    now = clock or (lambda: now_ms)
    report = RoundReport(interrupted=recover(engine, now_ms, lease_ms(cfg)))
    name = cfg.sms_sender or "sender"
    with engine.connect() as conn:
        down = conn.execute(sa.select(channels).where(channels.c.name == name)).first()
        due = [r[0] for r in conn.execute(
            sa.select(outbox.c.id).where(outbox.c.state == "pending", outbox.c.next_ms <= now_ms)
            .order_by(outbox.c.next_ms, outbox.c.id).limit(BATCH))]  # fmt: skip
    if due and down is not None and down.state == "down" and (down.next_ms or 0) > now_ms:
        report.channel = f"the {name} channel is down, tried again in {(down.next_ms - now_ms) // 1000} s"
        log.info("sms: %s (%s)", report.channel, down.error)
        return report
    try:
        for message_id in due:
            _one(engine, sender, cfg, key, message_id, now, report)
    except PortBusy as err:
        report.channel = f"{err}: this round waits"
        log.info("sms: %s (no attempt used)", report.channel)
    except ChannelError as err:
        report.channel = _channel_down(engine, cfg, name, queue.scrub(str(err))[:500], now())
        log.warning("sms: %s", report.channel)
    finally:
        sender.close()
    return report


def _channel_down(engine: Engine, cfg: SmsSettings, name: str, error: str, now_ms: int) -> str:
    """Mark the channel ``name`` down (one more failed round, backoff from its failures); answers the line
    that says so."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(channels).where(channels.c.name == name)).first()
        was_down = row is not None and row.state == "down"
        failures = (int(row.failures) if was_down and row is not None else 0) + 1
        pause_ms = int(pause_after(failures, cfg.sms_backoff_base_s, cfg.sms_backoff_cap_s) * 1000)
        values = {"state": "down", "error": error, "failures": failures, "next_ms": now_ms + pause_ms,
                  "since_ms": row.since_ms if was_down and row is not None else now_ms, "updated_ms": now_ms}  # fmt: skip
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(channels).values(name=name, **values)
                     .on_conflict_do_update(index_elements=["name"], set_=values))  # fmt: skip
    return (
        f"the {name} channel is down ({error}); no message used an attempt, the next round tries it in "
        f"{pause_ms // 1000} s"
    )


def _channel_up(engine: Engine, name: str, now_ms: int) -> None:
    """The channel ``name`` took a message to the modem or gateway: up again (when it was down)."""
    with engine.begin() as conn:
        changed = conn.execute(channels.update().where(channels.c.name == name, channels.c.state != "up")
                               .values(state="up", error=None, failures=0, next_ms=None, updated_ms=now_ms))  # fmt: skip
    if changed.rowcount:
        log.info("sms: the %s channel works again", name)


def channel_states(conn: sa.Connection) -> list[dict[str, object]]:
    """The channels that are down now (the back office's SMS page): name, error, since_ms, failures, next_ms."""
    query = sa.select(channels.c.name, channels.c.error, channels.c.since_ms, channels.c.failures,
                      channels.c.next_ms).where(channels.c.state == "down").order_by(channels.c.name)  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(query)]


def _phone_of(conn: sa.Connection, gateway_id: str, number: str) -> str | None:
    personal = conn.execute(
        sa.select(submissions.c.personal)
        .where(submissions.c.gateway_id == gateway_id, submissions.c.number == number)
        .order_by(submissions.c.seq)
        .limit(1)
    ).scalar()
    if not personal:
        return None
    return queue.normalise_phone(str(json.loads(personal).get("telepon") or ""))


def _one(engine: Engine, sender: Sender, cfg: SmsSettings, key: bytes, message_id: int, now: Callable[[], int],
         report: RoundReport) -> None:  # fmt: skip
    """Claim, send and record one message; raises ChannelError (after giving the claim back, its attempt
    unused) when the channel failed rather than the message."""
    now_ms, me = now(), owner()
    with engine.begin() as conn:
        row = conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).first()
        if row is None or row.state != "pending":
            return
        phone = _phone_of(conn, row.gateway_id, row.number)
        if phone is None:  # the personal data is gone (purged): nothing to send to
            conn.execute(outbox.update().where(outbox.c.id == message_id)
                         .values(state="dropped", last_error="no phone number any more",
                                 error_kind=senders.NO_NUMBER))  # fmt: skip
            report.dropped.append(message_id)
            return
        digest = queue.phone_hash(key, phone)
        if conn.dialect.name == "postgresql":  # one worker at a time counts and claims for a number
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock, hashtext(:digest))"),
                         {"lock": _LOCK, "digest": digest})  # fmt: skip
        today = office_date(now_ms).isoformat()
        sent_today = conn.execute(  # those sent (or maybe sent) today, and one another worker is sending now
            sa.select(sa.func.count()).where(
                outbox.c.phone_hash == digest,
                outbox.c.id != message_id,
                sa.or_(outbox.c.sent_day == today, outbox.c.state == "sending"),
            )
        ).scalar_one()
        if sent_today >= cfg.sms_daily_cap:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(
                    phone_hash=digest,
                    next_ms=next_day_ms(now_ms),
                    error_kind=senders.CAPPED,
                    last_error="the number's daily cap is reached: waits for the next day",
                )
            )
            report.capped.append(message_id)
            log.info("sms %d waits for tomorrow: the number's daily cap is reached", message_id)
            return
        claimed = conn.execute(
            outbox.update().where(outbox.c.id == message_id, outbox.c.state == "pending")
            .values(state="sending", claimed_ms=now_ms, claimed_by=me, attempts=outbox.c.attempts + 1,
                    phone_hash=digest)
        ).rowcount  # fmt: skip
    if not claimed:
        return  # another worker took it
    attempts, claim = int(row.attempts) + 1, (me, now_ms)
    try:
        reference = sender.send(phone, row.text, row.key)
    except ChannelError:  # nothing was sent: the claim is given back with its attempt, the round stops
        _finish(engine, message_id, claim, {"state": "pending", "attempts": outbox.c.attempts - 1,
                                            "claimed_ms": None, "claimed_by": None})  # fmt: skip
        raise
    except MaybeSent as err:  # handed over, not confirmed: like an interrupted send, never repeated by itself
        error = queue.scrub(f"{INTERRUPTED} ({err})", phone)[:500]
        at = now()
        if _finish(engine, message_id, claim, {"state": "failed", "last_error": error, "error_kind": err.kind,
                                               "next_ms": at, "sent_day": office_date(now_ms).isoformat()}):  # fmt: skip
            report.interrupted.append(message_id)
            log.warning("sms %d may have been sent (attempt %d): %s", message_id, attempts, error)
        _channel_up(engine, cfg.sms_sender or "sender", at)
        return
    except SendError as err:
        error = queue.scrub(str(err), phone)[:500]
        _failed(engine, cfg, message_id, claim, attempts, error, err.kind, now(), report)
        return
    except Exception as err:  # noqa: BLE001 - any other failure of a sender is the message's failure too
        error = queue.scrub(f"{type(err).__name__}: {err}", phone)[:500]
        _failed(engine, cfg, message_id, claim, attempts, error, senders.OTHER, now(), report)
        return
    at = now()
    if _finish(engine, message_id, claim, {"state": "sent", "sent_ms": at, "sent_day": office_date(at).isoformat(),
                                           "reference": queue.scrub(reference, phone)[:64], "last_error": None,
                                           "error_kind": None}):  # fmt: skip
        report.sent.append(message_id)
        log.info("sms %d sent (%s, attempt %d)", message_id, row.event, attempts)
    _channel_up(engine, cfg.sms_sender or "sender", at)


def _finish(engine: Engine, message_id: int, claim: tuple[str, int], values: dict[str, object]) -> bool:
    """Record the outcome of a send, only while the message is still ``sending`` under this worker's claim
    (``claim``: claimed_by, claimed_ms); answers whether it was. A claim that changed meanwhile (another worker
    listed it as interrupted once its lease ran out, an officer's retry) is logged and left as it is."""
    by, at = claim
    with engine.begin() as conn:
        changed = conn.execute(
            outbox.update().where(outbox.c.id == message_id, outbox.c.state == "sending",
                                  outbox.c.claimed_by == by, outbox.c.claimed_ms == at).values(**values)
        ).rowcount  # fmt: skip
    if not changed:
        log.warning("sms %d changed while this worker sent it (no longer its claim): left as it is, %s not "
                    "recorded", message_id, values.get("state"))  # fmt: skip
    return bool(changed)


def _failed(engine: Engine, cfg: SmsSettings, message_id: int, claim: tuple[str, int], attempts: int, error: str,
            kind: str, now_ms: int, report: RoundReport) -> None:  # fmt: skip
    if attempts >= cfg.sms_max_attempts:
        values: dict[str, object] = {
            "state": "failed",
            "last_error": error,
            "error_kind": kind,
            "next_ms": now_ms,
        }
        outcome = report.failed
    else:
        pause_s = pause_after(attempts, cfg.sms_backoff_base_s, cfg.sms_backoff_cap_s)
        values = {"state": "pending", "last_error": error, "error_kind": kind,
                  "next_ms": now_ms + int(pause_s * 1000)}  # fmt: skip
        outcome = report.retrying
    if _finish(engine, message_id, claim, values):
        outcome.append(message_id)
        log.warning("sms %d failed (attempt %d): %s", message_id, attempts, error)
    _channel_up(engine, cfg.sms_sender or "sender", now_ms)


def retry(conn: sa.Connection, message_id: int, now_ms: int) -> dict[str, object] | None:
    """Queue a failed message again (the back office's retry button): ``pending``, due now, its attempts
    counted from zero. Answers the row as it was, or None when there is no failed message ``message_id``."""
    row = conn.execute(sa.select(outbox).where(outbox.c.id == message_id)).first()
    if row is None or row.state != "failed":
        return None
    conn.execute(outbox.update().where(outbox.c.id == message_id, outbox.c.state == "failed")
                 .values(state="pending", attempts=0, next_ms=now_ms))  # fmt: skip
    return dict(row._mapping)


def troubles(conn: sa.Connection, limit: int = 200) -> list[dict[str, object]]:
    """The messages an officer should know of, newest first: failed ones, and pending ones that have failed
    at least once (being retried). Never the number, only its mask."""
    query = (
        sa.select(outbox.c.id, outbox.c.gateway_id, outbox.c.number, outbox.c.event, outbox.c.phone_masked,
                  outbox.c.state, outbox.c.attempts, outbox.c.last_error, outbox.c.error_kind, outbox.c.next_ms,
                  outbox.c.created_ms)
        .where(sa.or_(outbox.c.state == "failed",
                      sa.and_(outbox.c.state == "pending", outbox.c.last_error.is_not(None))))
        .order_by(outbox.c.created_ms.desc(), outbox.c.id.desc()).limit(limit)
    )  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(query)]


def for_case(conn: sa.Connection, gateway_id: str, number: str) -> list[dict[str, object]]:
    """The SMS of one submission, oldest first: id, event, state, attempts, sent_ms, last_error, error_kind and
    phone_masked (never the number)."""
    query = (
        sa.select(outbox.c.id, outbox.c.event, outbox.c.state, outbox.c.attempts, outbox.c.sent_ms,
                  outbox.c.last_error, outbox.c.error_kind, outbox.c.phone_masked)
        .where(outbox.c.gateway_id == gateway_id, outbox.c.number == number).order_by(outbox.c.id)
    )  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(query)]


OVERDUE_MS = 15 * 60_000  # a message due this long ago and still pending: no worker seems to be sending


def overdue(conn: sa.Connection, now_ms: int, grace_ms: int = OVERDUE_MS) -> int:
    """How many messages are still pending ``grace_ms`` after they were due (``now_ms``: ms since the epoch):
    more than none means no worker sends (none runs, or ``SMS_SENDER`` is not set where it runs)."""
    query = sa.select(sa.func.count()).where(
        outbox.c.state == "pending", outbox.c.next_ms <= now_ms - grace_ms
    )
    return int(conn.execute(query).scalar_one())


def counts(conn: sa.Connection) -> dict[str, int]:
    """How many messages are in each state."""
    found: dict[str, int] = dict(
        conn.execute(sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state)).all()
    )
    return {state: int(found.get(state, 0)) for state in ("pending", "sending", "sent", "failed", "dropped")}


class Worker:
    """Runs :func:`send_due` every ``cfg.sms_every_s`` seconds in a named thread until :meth:`close`; each round
    first :func:`recover`\\ s what a stopped worker left half-sent (claims whose lease ran out)."""

    def __init__(
        self, engine: Engine, sender: Sender, cfg: SmsSettings, key: bytes, clock: Callable[[], float]
    ):
        self.engine, self.sender, self.cfg, self.key, self.clock = engine, sender, cfg, key, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="anjungan-sms", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                send_due(self.engine, self.sender, self.cfg, self.key, self._now_ms(), clock=self._now_ms)
            except Exception:  # a database outage must not end the thread: try again next round
                log.exception("sms round failed")
            self._stop.wait(max(1, self.cfg.sms_every_s))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)
