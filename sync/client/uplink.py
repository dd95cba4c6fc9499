"""Uplink: the store's outbox to ``POST /api/v1/batches``, stream by stream, oldest first.

- Priority: a citizen's submission goes before events, events before readings. The highest-priority stream
  with pending records is asked again before every batch, so a submission made during a long readings drain
  goes out with the next request.
- Batch size per stream grows ×2 on success up to ``batch_max`` (readings; submissions and events, larger
  records, up to ``RECORDS_MAX``) and shrinks ÷2 on failure down to 1.
- Each batch declares ``after`` = the stream's acknowledged seq, so that the seqs the batch skips (dead
  letters, records retention evicted) are known to be gone for good.
- Records are marked acknowledged through what the central answered, never further (and never further than
  what this batch carried).
- A 422 naming rejected records: those go to the dead-letter table with the central's reason and the rest is
  sent again. Another 4xx: the batch shrinks until the one record that causes it is found and set aside.
- Once submissions are acknowledged their personal data is purged from the kiosk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway import faults
from gateway.store import Store, db
from sync import protocol
from sync.client.errors import RejectedError, SyncError, TransientError
from sync.client.transport import Central

log = logging.getLogger(__name__)

STREAMS: tuple[str, ...] = tuple(protocol.STREAMS)
FIRST_BATCH = 100
RECORDS_MAX = 1000  # submissions and events per batch at most (a reading column packs far denser)
BATCHES_PATH = "/api/v1/batches"

Progress = Callable[[str, int], object]


class Uplink:
    def __init__(
        self,
        store: Store,
        central: Central,
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

    def drain(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Send until every stream is empty (or ``should_stop``); returns records acknowledged.

        While a full batch of readings is in flight, the next one is read and encoded in a helper thread, so
        that the gateway's work overlaps the central's. Raises TransientError / CredentialError /
        ClockSkewRefused for the caller to handle.
        """
        total = 0
        with ThreadPoolExecutor(1, thread_name_prefix="anjungan-sync-prefetch") as pool:
            while not should_stop():
                batch = self.next_batch()
                if batch is None:
                    return total
                stream, records = batch
                encoded = self._encode(stream, records, self.store.acked(stream))
                while encoded is not None and not should_stop():
                    ahead = None
                    if stream == "readings" and len(records) >= self.sizes[stream]:
                        ahead = pool.submit(self._prepare_readings, records[-1]["seq"], self.sizes[stream])
                    total += self._post(stream, records, encoded)
                    if ahead is None:
                        break
                    prepared = ahead.result()
                    if prepared is None or not self._may_continue(records[-1]["seq"]):
                        break
                    records, encoded = prepared
        return total

    def next_batch(self) -> tuple[str, list[dict[str, Any]]] | None:
        for stream in STREAMS:
            records = self.store.outbox(stream, self.sizes[stream])
            if records:
                return stream, records
        return None

    def send(self, stream: str, records: list[dict[str, Any]]) -> int:
        """Send one batch; returns how many records became acknowledged."""
        encoded = self._encode(stream, records, self.store.acked(stream))
        return 0 if encoded is None else self._post(stream, records, encoded)

    def _prepare_readings(
        self, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[bytes, dict[str, str]]] | None:
        """The readings batch that follows seq ``after``, encoded as if ``after`` were acknowledged."""
        records = readings_after(self.store, after, limit)
        if not records:
            return None
        encoded = self._encode("readings", records, after, set_aside=False)
        return (records, encoded) if encoded is not None else None

    def _may_continue(self, top: int) -> bool:
        """The prefetched batch is still the right next one: all acked, nothing of higher priority waiting."""
        if self.store.acked("readings") != top:
            return False
        return not any(self.store.outbox(stream, 1) for stream in STREAMS if stream != "readings")

    def _post(self, stream: str, records: list[dict[str, Any]], encoded: tuple[bytes, dict[str, str]]) -> int:
        after = self.store.acked(stream)
        body, headers = encoded
        faults.point("uplink.before_post")
        try:
            answer = self.central.post_json(BATCHES_PATH, body, headers)
        except RejectedError as err:
            self._rejected(stream, records, err)
            return 0
        except SyncError as err:
            self._shrink(stream)
            self.store.record_sync_error(stream, str(err))
            raise
        faults.point("uplink.answered")
        acked = self._acked(stream, answer, records[-1]["seq"])
        if acked <= after:
            self._shrink(stream)
            message = f"the central acknowledged nothing of a {stream} batch (acked {acked}, ours {after})"
            self.store.record_sync_error(stream, message)
            raise TransientError(message)
        self.store.mark_acked(stream, acked)
        faults.point("uplink.acked")
        if stream == "submissions":
            self.store.purge_personal(acked)
        self._grow(stream)
        done = sum(1 for r in records if r["seq"] <= acked)
        self.sent_records += done
        if self.on_acked:
            self.on_acked(stream, done)
        return done

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
            bad = [r for r in records if protocol.record_problem(stream, r) is not None]
            if not set_aside:  # prefetching: the main path will set them aside
                return None
            if not bad:
                raise TransientError(f"a {stream} batch cannot be encoded: {err}") from err
            for record in bad:
                reason = f"not sendable: {protocol.record_problem(stream, record)}"
                self.store.dead_letter(stream, [record], reason)
            self.dead_lettered += len(bad)
            self.store.record_sync_error(stream, f"{len(bad)} record(s) set aside: {err}")
            return None

    # -- answers ---------------------------------------------------------------------------------------------
    @staticmethod
    def _acked(stream: str, answer: dict[str, Any], top: int) -> int:
        acked = answer.get("acked")
        if answer.get("stream") != stream or not isinstance(acked, int) or isinstance(acked, bool):
            raise TransientError(
                f"the central's answer to a {stream} batch is not understood: {answer!r:.200}"
            )
        if acked > top:
            log.warning("the central acknowledged %s through %d, beyond this batch (%d)", stream, acked, top)
        return min(acked, top)

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


_READING_KEYS = ("seq", "node", "boot", "q", "name", "value", "at", "offset")


def readings_after(store: Store, after: int, limit: int) -> list[dict[str, Any]]:
    """Like ``store.outbox("readings")`` but after a given seq (the batch in flight), dead letters left out."""
    with db.snapshot(store.conn) as conn:
        rows = conn.execute(
            f"{store._READINGS_SQL} WHERE r.seq > ? AND r.seq NOT IN "
            "(SELECT seq FROM dead_letters WHERE stream = 'readings') ORDER BY r.seq LIMIT ?",
            (after, limit),
        ).fetchall()
    return [dict(zip(_READING_KEYS, row, strict=True)) for row in rows]
