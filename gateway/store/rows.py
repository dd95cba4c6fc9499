"""The shapes of the store's rows that leave the store, and the small codecs every part of it shares.

Each TypedDict documents its keys; times are milliseconds since the epoch (UTC) unless named ``..._iso``
or said otherwise. The contract rows the sync side sends (readings, events, submissions) are plain dicts
with the keys of :mod:`gateway.vocabulary` and docs/sync.md; they are typed here as ``Record``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypedDict

Record = dict[str, Any]  # one record of a stream as it is sent to the central (docs/sync.md)


def iso_utc(ms: int) -> str:
    """ISO 8601 UTC with a Z, second precision unless the milliseconds matter."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def to_json(obj: Any) -> str:
    """Compact JSON, non-ASCII kept as it is (how the store keeps JSON columns)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def safe_text(text: str) -> str:
    """Text that SQLite can store as UTF-8: what cannot be encoded (lone surrogates) shown as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Reading(TypedDict):
    """A stored reading as the contract row (``anjungan export``): node id, boot, q (as ``seq``), name,
    value, ``received_at`` (ISO 8601 UTC)."""

    node: str
    boot: int
    seq: int
    name: str
    value: float
    received_at: str


class LatestValue(TypedDict):
    """The latest value of one measurement of one node: ``at`` is when it arrived (ms)."""

    node: str
    name: str
    value: float
    at: int


class SeriesPoint(TypedDict):
    """One 5-minute aggregate: ``at`` the bucket's start (ms), mean, low, high and count ``n``."""

    at: int
    mean: float
    low: float
    high: float
    n: int


class ConsoleLine(TypedDict):
    """One line a node's serial console printed, with when it arrived (ms)."""

    at: int
    line: str


class Event(TypedDict):
    """A stored event: ``seq``, ``at`` (ms), ``offset`` (the learned clock offset in ms, None if not known),
    ``node`` (None for the gateway's own), ``kind`` and its ``data``."""

    seq: int
    at: int
    offset: int | None
    node: str | None
    kind: str
    data: dict[str, Any]


class Submission(TypedDict):
    """A citizen's submission as the kiosk shows it, never its personal data: ``day`` and ``due_date`` are ISO
    dates, ``at``/``updated_at`` ms, ``answered_at`` as the central sent it (ISO 8601), ``public`` the fields anyone may see, ``attachments`` the
    documents of an answer (``{"name", "sha256", "size"}``), ``notify_sms`` whether SMS were asked for."""

    seq: int
    uuid: str
    number: str
    kind: str
    day: str
    at: int
    due_date: str | None
    status: str
    answer: str | None
    answered_at: str | None
    updated_at: int | None
    public: dict[str, Any]
    due_kind: str | None
    attachments: list[dict[str, Any]]
    notify_sms: bool  # the citizen asked to be told by SMS (kept after the purge; never the number)


class Receipt(Submission):
    """A submission just saved (:meth:`~gateway.store.Store.add_submission`): ``code`` is its status code in the
    clear, the one time it exists so (None on a repeat whose code does not match), ``repeat`` whether the
    idempotency key had been used already."""

    code: str | None
    repeat: bool


class NodeRow(TypedDict):
    """A row of ``nodes`` (gateway/store/schema.py): ``first_seen``/``last_seen`` ms, the hello fields as the
    node last sent them (None until it has), ``online`` 1/0 as the ingest's watch marked it, ``interval_s``
    the reporting interval the watch learned (None until it has); ``seen_boot``, ``seen_low``, ``seen_high``
    the node's newest interval of frame keys stored (boot, first and last q; the others are in
    ``frames_seen``), None before its first frame."""

    id: int
    node: str
    first_seen: int
    last_seen: int
    boot: int | None
    fw: str | None
    up_s: int | None
    mem_free: int | None
    rssi: int | None
    bat_v: float | None
    kind: str | None
    port: str | None
    frames: int
    bad_lines: int
    online: int
    interval_s: int | None
    seen_boot: int | None
    seen_low: int | None
    seen_high: int | None


class SubmissionSummary(TypedDict):
    """A line of the operator's list of submissions (no personal data; ``holds_personal`` says whether the
    store still holds it)."""

    number: str
    kind: str
    day: str
    status: str
    due_date: str | None
    answered_at: int | None
    holds_personal: int


class Backlog(TypedDict):
    """One stream's sync state: records not yet sent (``pending``), the oldest of them (ms, None when none),
    the acknowledged seq, dead letters, and the last success / error (ms)."""

    pending: int
    oldest_at: int | None
    acked: int
    dead_letters: int
    last_success: int | None
    last_error: str | None
    last_error_at: int | None


class DeadLetter(TypedDict, total=False):
    """A dead letter as listed: ``at`` ISO 8601 UTC, ``summary`` a line naming the record; submissions add
    ``number`` and ``kind``. Never personal data."""

    stream: str
    seq: int
    at: str
    reason: str
    attempts: int
    retry_requested: bool
    summary: str
    number: str | None
    kind: str | None


class NodeHealth(TypedDict):
    """A node's health (``anjungan node list``): ``status`` is ``online`` or ``OFFLINE``, ``last_seen`` ms,
    ``last_seen_s`` its age in s (None when unknown: the clock was stepped back), the hello fields as sent."""

    node: str
    status: str
    last_seen: int
    last_seen_s: int | None
    boot: int | None
    fw: str | None
    frames_per_min: float
    frames: int
    bad_lines: int
    interval_s: float | None
    rssi: int | None
    bat_v: float | None
    mem_free: int | None
    up_s: int | None
    port: str | None


class FileFailure(TypedDict):
    """A wanted file whose last download failed (times in ms)."""

    sha256: str
    attempts: int
    last_error: str
    failed_at: int
    next_attempt_at: int


class FilesSummary(TypedDict):
    """Documents' files for ``anjungan sync status``: fetched, missing, failing, the last download error."""

    fetched: int
    missing: int
    failing: int
    last_error: str | None


class Lookup(TypedDict):
    """A status lookup waiting for the relay: its id, the number asked for and the code typed (or None)."""

    id: int
    number: str
    code: str | None
