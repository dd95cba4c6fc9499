"""Uplink: the store's outbox to ``POST /api/v1/batches``, stream by stream, oldest first.

- Priority: a citizen's submission goes before events, events before readings. The highest-priority stream
  with pending records is asked again before every batch, so a submission made during a long readings drain
  goes out with the next request.
- A drain sends what was pending when it began, not what arrives while it runs: once a batch of readings or
  events that was not full (the stream held no more when it was read) is acknowledged whole, that stream
  waits for the next round. At a
  low rate a round is then one request per stream instead of a chase of each new frame that arrives during
  the request before (bench/field.py). A backlog still drains in full batches, and submissions are read
  again before every batch, so a citizen's submission never waits for the next round.
- One stream's trouble never stops the others: a stream whose batch fails is left alone for the rest of the
  drain while the other streams go on; the drain then raises the failure (the round is retried with backoff).
- Batch size per stream grows ×2 on success up to ``batch_max`` (readings; submissions and events, larger
  records, up to ``RECORDS_MAX``) and shrinks ÷2 on failure down to 1.
- Each batch declares ``after`` = the stream's acknowledged seq, so that the seqs the batch skips (dead
  letters, records retention evicted) are known to be gone for good.
- Records are marked acknowledged through what the central answered, never further (and never further than
  what this batch carried).
- A 422 naming rejected records: those go to the dead-letter table with the central's reason and the rest is
  sent again. Another 4xx: the batch shrinks until the one record that causes it is found and set aside.
- A batch that fails again and again (5xx, cut answers, anything transient) must not stall its stream: after
  ``NARROW_AFTER`` failures in a row of a batch starting at the same seq (counted in the store), the batch is
  narrowed down by halving to the records that fail, each of which is tried alone ``RECORD_TRIES`` times and
  then set aside as a dead letter with the last error. An empty batch of the stream (which the central
  stores like any other) is sent first and before each record is set aside: when the central fails that as
  well, the central itself is in trouble, nothing is set aside and the failure is an ordinary one.
- Dead letters asked to be sent again (``anjungan sync dead-letters retry``, the kiosk's operator page) go
  first, one record per request (:meth:`Uplink.retry_dead_letters`).
- Once submissions are acknowledged their personal data is purged from the kiosk, except the dead letters'
  (the central does not have those).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway import faults
from gateway.errors import StoreError
from gateway.store import Store
from sync import protocol
from sync.client.errors import RejectedError, SyncError, TransientError, UnreachableError
from sync.client.transport import CentralLink

log = logging.getLogger(__name__)

STREAMS: tuple[str, ...] = tuple(protocol.STREAMS)
FIRST_BATCH = 100
RECORDS_MAX = 1000  # submissions and events per batch at most (a reading column packs far denser)
BATCHES_PATH = "/api/v1/batches"
# events that carry nothing the central must learn soon: a node's periodic hello (every 15 minutes from every
# node) and its first frame. In the loop's rounds (:attr:`Uplink.hold_routine_s`: ROUTINE_HOLD_ROUNDS sync
# intervals, 15 minutes at the default minute) a batch of nothing but these waits until its oldest is that old,
# or until another event joins it: each batch acknowledged is a transaction written to the SD card, and hellos
# made one nearly every round.
ROUTINE_EVENTS = ("hello", "node_new")
ROUTINE_HOLD_ROUNDS = 15
# In `sync run`, the acknowledgements of readings and events are written to the store at most every this many
# intervals (Store.mark_acked's hold): each one written was a transaction of its own nearly every round
# (bench/field.py). A crash sends up to this much again, which the central stores once; submissions (their
# acknowledgement purges personal data) and ratings are written at once.
ACK_HOLD_ROUNDS = 5
ACK_HELD_STREAMS = ("readings", "events")
NARROW_AFTER = 3  # failures in a row of a stream's head batch before it is narrowed down to what fails
RECORD_TRIES = 3  # failures of one record sent alone (the central healthy) before it is set aside

Progress = Callable[[str, int], object]


class Uplink:
    def __init__(
        self,
        store: Store,
        central: CentralLink,
        *,
        batch_max: int = 20_000,
        columnar: bool = True,
        fixed_batch: int | None = None,
        on_acked: Progress | None = None,
    ):
        self.store = store
        self.central = central
        self.batch_max = max(1, batch_max)
        self.columnar = columnar
        self.fixed_batch = fixed_batch
        first = fixed_batch or min(FIRST_BATCH, self.batch_max)
        self.sizes = dict.fromkeys(STREAMS, first)
        self.on_acked = on_acked
        self.sent_records = 0
        self.dead_lettered = 0
        self.hold_routine_s = 0.0  # see ROUTINE_HOLD_ROUNDS; 0: every event goes with the next batch
        self.hold_acks_s = 0.0  # see ACK_HOLD_ROUNDS; 0: every acknowledgement is written at once

    def drain(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send until every stream is empty (or ``should_stop``); returns records acknowledged.

        While a full batch of readings is in flight, the next one is read and encoded in a helper thread, so
        that the gateway's work overlaps the central's. A stream whose batch fails transiently is left alone
        for the rest of the drain while the others go on; then the first such failure is raised
        (TransientError). CredentialError and ClockSkewRefused are raised at once, for the caller to handle.
        """
        try:  # the ratings of days that are over join their stream, shuffled (docs/skm.md)
            self.store.release_ratings()
        except StoreError as err:  # (a full disk): they wait for the next round; the other streams go on
            log.warning("ratings: the day's ratings cannot join their stream yet: %s", err)
        total, retry_failure = self._retry_dead_letters(should_stop)
        failed: dict[str, TransientError] = {}
        caught_up: set[str] = (
            set()
        )  # streams whose last batch was not full: the rest waits for the next round
        with ThreadPoolExecutor(1, thread_name_prefix="anjungan-sync-prefetch") as pool:
            while not should_stop():
                batch = self.next_batch(skip=failed.keys() | caught_up)
                if batch is None:
                    break
                stream, records = batch
                full = len(records) >= self.sizes[stream]
                try:
                    total += self._drain_batch(pool, stream, records, should_stop)
                except TransientError as err:
                    failed[stream] = err
                    continue
                if not full and stream != "submissions" and self.store.acked(stream) >= records[-1]["seq"]:
                    caught_up.add(stream)  # (a batch with records set aside is sent again at once)
        if failed:
            raise next(iter(failed.values()))
        if retry_failure is not None:  # after the streams' work: the round fails and backs off like any other
            raise retry_failure
        return total

    def _drain_batch(
        self,
        pool: ThreadPoolExecutor,
        stream: str,
        records: list[dict[str, Any]],
        should_stop: Callable[[], bool],
    ) -> int:
        """Send one batch and, for readings, the full batches that follow it (prefetched); records acked."""
        total = 0
        encoded = self._encode(stream, records, self.store.acked(stream))
        while encoded is not None and not should_stop():
            ahead = None
            if stream == "readings" and len(records) >= self.sizes[stream]:
                ahead = pool.submit(self._prepare_readings, records[-1]["seq"], self.sizes[stream])
            try:
                total += self._post(stream, records, encoded)
            finally:
                prepared = ahead.result() if ahead is not None else None
            if prepared is None or not self._may_continue(records[-1]["seq"]):
                break
            records, encoded = prepared
        return total

    def next_batch(self, skip: Collection[str] = ()) -> tuple[str, list[dict[str, Any]]] | None:
        """The highest-priority stream with pending records (``skip`` left out) and its next batch."""
        for stream in STREAMS:
            if stream in skip:
                continue
            records = self.store.outbox(stream, self.sizes[stream])
            if records and not (stream == "events" and self._routine_only(records)):
                return stream, records
        return None

    def _routine_only(self, records: list[dict[str, Any]]) -> bool:
        """A batch of events that may wait (see ROUTINE_HOLD_ROUNDS): routine only, the oldest younger than
        :attr:`hold_routine_s` (by the wall clock: a stamp in the future, after a step, does not hold it)."""
        if self.hold_routine_s <= 0 or any(r["kind"] not in ROUTINE_EVENTS for r in records):
            return False
        age_s = (self.store.clock.now_ms() - records[0]["at"]) / 1000
        return 0 <= age_s < self.hold_routine_s

    def send(self, stream: str, records: list[dict[str, Any]]) -> int:
        """Send one batch; returns how many records became acknowledged."""
        encoded = self._encode(stream, records, self.store.acked(stream))
        return 0 if encoded is None else self._post(stream, records, encoded)

    def _prepare_readings(
        self, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[bytes, dict[str, str]]] | None:
        """The readings batch that follows seq ``after``, encoded as if ``after`` were acknowledged."""
        records = self.store.readings_after(after, limit)
        if not records:
            return None
        encoded = self._encode("readings", records, after, set_aside=False)
        return (records, encoded) if encoded is not None else None

    def _may_continue(self, top: int) -> bool:
        """The prefetched batch is still the right next one: all acked, nothing of higher priority waiting."""
        if self.store.acked("readings") != top:
            return False
        return self.next_batch(skip=("readings",)) is None  # (routine events held do not count)

    def _post(self, stream: str, records: list[dict[str, Any]], encoded: tuple[bytes, dict[str, str]]) -> int:
        """Send one encoded batch; answers records acknowledged. A transient failure is counted against the
        stream's head: below ``NARROW_AFTER`` in a row it shrinks the batch and is raised, at that count the
        batch is narrowed down to the records that fail (:meth:`_narrow`)."""
        try:
            return self._attempt(stream, records, encoded)
        except RejectedError as err:
            self._rejected(stream, records, err)
            return 0
        except TransientError as err:
            if self.store.note_failure(stream, records[0]["seq"], str(err)) < NARROW_AFTER:  # one commit
                self._shrink(stream)
                raise
            return self._narrow(stream, records, err)
        except SyncError as err:
            self._shrink(stream)
            self.store.record_sync_error(stream, str(err))
            raise

    def _attempt(
        self, stream: str, records: list[dict[str, Any]], encoded: tuple[bytes, dict[str, str]]
    ) -> int:
        """One request: post, check the answer, mark acknowledged; raises the client's errors."""
        after = self.store.acked(stream)
        body, headers = encoded
        faults.point("uplink.before_post")
        answer = self.central.post_json(BATCHES_PATH, body, headers)
        faults.point("uplink.answered")
        acked = self._acked(stream, answer, records[-1]["seq"])
        if acked <= after:
            self._shrink(stream)
            raise TransientError(
                f"the central acknowledged nothing of a {stream} batch (acked {acked}, ours {after})"
            )
        hold_ms = int(self.hold_acks_s * 1000) if stream in ACK_HELD_STREAMS else 0
        self.store.mark_acked(stream, acked, hold_ms=hold_ms)
        faults.point("uplink.acked")
        if stream == "submissions":
            self.store.purge_personal(acked)
        self._grow(stream)
        done = sum(1 for r in records if r["seq"] <= acked)
        self.sent_records += done
        if self.on_acked:
            self.on_acked(stream, done)
        return done

    # -- a batch that keeps failing --------------------------------------------------------------------------
    def _narrow(self, stream: str, records: list[dict[str, Any]], err: TransientError) -> int:
        """Find the records of a batch that keeps failing by halving it; set them aside; answer records acked.

        Raises ``err`` (nothing set aside) when the central fails an empty batch too: then it is not the
        records.
        """
        if not self._central_healthy(stream):
            self._shrink(stream)
            raise err
        log.warning("%s: a batch from seq %d failed %d times in a row (%s): narrowing it down",
                    stream, records[0]["seq"], NARROW_AFTER, err)  # fmt: skip
        half = max(1, len(records) // 2)
        return self._isolate(stream, records[:half]) + self._isolate(stream, records[half:])

    def _isolate(self, stream: str, records: list[dict[str, Any]]) -> int:
        """Send ``records`` (in seq order, after everything before them is settled); on failure halve them
        and go on with each half; a record that fails alone is set aside. Answers records acknowledged."""
        acked, dead = self.store.acked(stream), self._dead_seqs(stream, records)
        records = [r for r in records if r["seq"] > acked and r["seq"] not in dead]
        if not records:
            return 0
        tries = RECORD_TRIES if len(records) == 1 else 1
        for _ in range(tries):
            try:
                encoded = self._encode(stream, records, self.store.acked(stream))
                if encoded is None:  # records that cannot travel were set aside: the rest goes again
                    return self._isolate(stream, records)
                return self._attempt(stream, records, encoded)
            except RejectedError as rejected:
                self._rejected(stream, records, rejected)  # sets aside what it names (or the one record)
                if self._dead_seqs(stream, records):
                    return self._isolate(stream, records)  # the rest goes again
                failure: SyncError = rejected
            except TransientError as transient:
                self.store.record_sync_error(stream, str(transient))
                failure = transient
        if len(records) > 1:
            half = len(records) // 2
            return self._isolate(stream, records[:half]) + self._isolate(stream, records[half:])
        if not self._central_healthy(stream):
            raise TransientError(f"the central fails even an empty {stream} batch: {failure}")
        reason = f"the central failed on this record alone {RECORD_TRIES} times: {failure}"
        self.store.dead_letter(stream, records, reason)
        self.dead_lettered += 1
        self.store.record_sync_error(stream, f"1 record set aside: {reason}")
        log.warning("%s: seq %d set aside as a dead letter: %s", stream, records[0]["seq"], reason)
        return 0

    def _central_healthy(self, stream: str) -> bool:
        """The central stores an empty batch of ``stream`` (its whole write path, no record of ours)."""
        body, headers = protocol.encode_batch(stream, [], columnar=False)
        try:
            self.central.post_json(BATCHES_PATH, body, headers)
        except UnreachableError as err:  # no answer at all: a link or a central that is down, not our records
            log.warning("%s: the central cannot be reached: %s", stream, err)
            return False
        except SyncError as err:
            log.warning("%s: the central fails an empty batch too: %s", stream, err)
            return False
        return True

    def _dead_seqs(self, stream: str, records: list[dict[str, Any]]) -> set[int]:
        """The seqs of these records (in seq order) that are dead letters."""
        return self.store.dead_letter_seqs(stream, [r["seq"] for r in records])

    # -- dead letters sent again ----------------------------------------------------------------------------
    def retry_dead_letters(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send the dead letters someone asked to be sent again (those whose attempt is due), one record per
        request; answers how many the central stored (those are forgotten, and a submission's personal data
        purged). A record refused again stays a dead letter with the new reason. A transient failure (5xx, no
        answer) counts an attempt, sets the record's next attempt later (:meth:`~gateway.store.Store.postpone_dead_letter`) and is
        raised once the other streams' dead letters were tried (TransientError).

        Each record travels alone without ``after``: the central stores it whatever its acked seq (a seq it
        had declared gone stays stored), and a record still ahead of the acked seq may later travel again
        with its stream's batches, which changes nothing.
        """
        stored, failure = self._retry_dead_letters(should_stop)
        if failure is not None:
            raise failure
        return stored

    def _retry_dead_letters(self, should_stop: Callable[[], bool]) -> tuple[int, TransientError | None]:
        """:meth:`retry_dead_letters`, answering (records stored, the first transient failure or None)."""
        stored, failure = 0, None
        for stream in STREAMS:
            for record in self.store.dead_letters_due(stream):
                if should_stop():
                    return stored, failure
                try:
                    body, headers = protocol.encode_batch(stream, [record], columnar=False)
                    self.central.post_json(BATCHES_PATH, body, headers)
                except (protocol.ProtocolError, RejectedError) as err:
                    reason = protocol.record_problem(stream, record) or _rejection_reason(err, record["seq"])
                    self.store.dead_letter(stream, [record], reason)
                    continue
                except TransientError as err:
                    delay = self.store.postpone_dead_letter(stream, record["seq"])
                    log.warning("%s: dead letter seq %d not sent again (%s): next attempt in %d s",
                                stream, record["seq"], err, delay)  # fmt: skip
                    failure = failure or err
                    break
                stored += self.store.resolve_dead_letters(stream, [record["seq"]])
        return stored, failure

    def _encode(
        self, stream: str, records: list[dict[str, Any]], after: int, *, set_aside: bool = True
    ) -> tuple[bytes, dict[str, str]] | None:
        """The batch's body; records that cannot travel at all are set aside (None: nothing left to send)."""
        if self.columnar and stream == "readings":
            try:
                return protocol.encode_batch(stream, records, after=after, columnar=True)
            except protocol.ProtocolError:
                pass  # a reading of an unusual shape: rows carry it (or say what is wrong with it)
        try:
            return protocol.encode_batch(stream, records, after=after, columnar=False)
        except protocol.ProtocolError as err:
            if not set_aside:  # prefetching: the main path will set them aside
                return None
            bad = [(r, _unsendable(stream, r)) for r in records]
            bad = [(r, problem) for r, problem in bad if problem is not None]
            if not bad:  # each record travels alone, only not together: smaller batches until one travels
                self._shrink(stream)
                raise TransientError(f"a {stream} batch cannot be encoded: {err}") from err
            for record, problem in bad:
                self.store.dead_letter(stream, [record], f"not sendable: {problem}")
            self.dead_lettered += len(bad)
            self.store.record_sync_error(stream, f"{len(bad)} record(s) set aside: {err}")
            return None

    # -- answers ---------------------------------------------------------------------------------------------
    def _acked(self, stream: str, answer: dict[str, Any], top: int) -> int:
        acked = answer.get("acked")
        if answer.get("stream") != stream or not isinstance(acked, int) or isinstance(acked, bool):
            raise TransientError(
                f"the central's answer to a {stream} batch is not understood: {answer!r:.200}"
            )
        if acked > top:
            log.warning("the central acknowledged %s through %d, beyond this batch (%d)", stream, acked, top)
            self._check_not_behind(stream, acked)
        return min(acked, top)

    def _check_not_behind(self, stream: str, central_acked: int) -> None:
        """Say it plainly when the central holds seqs of ``stream`` this store never made: the store was
        replaced (an SD card swapped, the same credentials) or restored from an old backup, and its new records
        reuse seqs the central already has (docs/sync.md, "A replaced store"). Recorded as the stream's sync
        error (``sync status``) and, once per stream and acked seq, as an event ``store_behind_central``."""
        highest = self.store.highest_seq(stream)
        if central_acked <= highest:
            return
        message = (
            f"{Store.STANDING_ERROR}: the store was replaced or restored from an "
            f"old backup (the central holds {stream} through seq {central_acked}, this store's highest is "
            f'{highest}); see docs/sync.md, "A replaced store"'
        )
        log.error("%s: %s", stream, message)
        self.store.record_sync_error(stream, message)
        key = f"store_behind_central.{stream}"
        if self.store.get_meta(key) != str(central_acked):
            self.store.set_meta(key, str(central_acked))
            self.store.add_event("store_behind_central",
                                 {"stream": stream, "central_acked": central_acked, "store_highest": highest})  # fmt: skip

    def _rejected(self, stream: str, records: list[dict[str, Any]], err: RejectedError) -> None:
        by_seq = {r["seq"]: r for r in records}
        named = [(by_seq[item["seq"]], str(item.get("reason") or err))
                 for item in err.rejected if isinstance(item, dict) and item.get("seq") in by_seq]  # fmt: skip
        if named:
            for record, reason in named:
                self.store.dead_letter(stream, [record], reason)
        elif len(records) == 1:
            named = [(records[0], str(err))]
            self.store.dead_letter(stream, records, str(err))
        else:
            self._shrink(stream)  # find the record that causes it
        self.dead_lettered += len(named)
        self.store.record_sync_error(stream, f"{len(named)} record(s) set aside: {err}")
        log.warning("%s: %d record(s) set aside as dead letters: %s", stream, len(named), err)

    # -- batch size ------------------------------------------------------------------------------------------
    def _grow(self, stream: str) -> None:
        if self.fixed_batch is None:
            cap = self.batch_max if stream == "readings" else min(self.batch_max, RECORDS_MAX)
            self.sizes[stream] = min(cap, self.sizes[stream] * 2)

    def _shrink(self, stream: str) -> None:
        if self.fixed_batch is None:
            self.sizes[stream] = max(1, self.sizes[stream] // 2)


def _unsendable(stream: str, record: dict[str, Any]) -> str | None:
    """Why one record cannot travel at all (the protocol's record check, else its encoding alone), or None."""
    problem = protocol.record_problem(stream, record)
    if problem is not None:
        return problem
    try:
        protocol.encode_batch(stream, [record], columnar=False, compress=False)
    except protocol.ProtocolError as err:
        return str(err)
    return None


def _rejection_reason(err: Exception, seq: int) -> str:
    """The central's reason for one record of a refusal, else the refusal itself."""
    for item in getattr(err, "rejected", []):
        if isinstance(item, dict) and item.get("seq") == seq and item.get("reason"):
            return str(item["reason"])
    return str(err)
