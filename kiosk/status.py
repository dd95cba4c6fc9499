"""What the status page may show about a registration number, and to whom.

A number alone is not a key (numbers are predictable): it shows that the submission exists and its status. The
due date and the officer's answer (which often repeats the citizen's name, phone or street) need the
submission's status code, printed on the receipt (:mod:`gateway.statuscode`), or the session that made it.

Numbers of this kiosk are checked in its own store, offline. A number filed at another kiosk of the regency is
looked up at the central through the sync process (:mod:`gateway.store.lookups`), waiting a few seconds at most
— and only while the sync process's relay is running (its heartbeat in meta is fresh), and only in as many
request threads at a time as :class:`Relay` has slots: the others are answered at once that the check is busy,
so relayed lookups can never hold every request thread of the kiosk (the home page keeps answering).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cachetools import TTLCache

from gateway.store import Store
from gateway.vocabulary import SubmissionStatus

POLL_S = 0.05


@dataclass
class StatusView:
    """One status page: ``found`` (the number exists), ``full`` (the code or the session opened it), and
    what may be shown. ``offline``: not here, and the central could not be asked."""

    number: str
    found: bool
    full: bool = False
    status: str | None = None
    kind: str | None = None
    at_ms: int | None = None
    due_date: str | None = None
    due_kind: str | None = None  # what due_date is the deadline of (gateway.vocabulary.DueKind)
    answer: str | None = None
    answered_at: str | None = None
    offline: bool = False
    busy: bool = False  # another lookup is waiting for the central: try again in a few seconds
    code_refused: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)  # the answer's documents (full view only)
    sms: bool = False  # the citizen asked to be told by SMS (full view only; a flag, never the number)


@dataclass
class Relay:
    """How numbers of other kiosks are asked at the central: waiting ``wait_s`` seconds at most for an answer,
    in at most ``waiters`` request threads at a time (a semaphore taken without blocking)."""

    wait_s: float
    waiters: int = 1
    slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(max(1, self.waiters))


def look_up(store: Store, number: str, code: str | None, *, own: bool, relay: Relay | None) -> StatusView:
    """The view of ``number`` for someone holding ``code`` (as typed, or None).

    ``own``: the number was made in this session (its receipt is here); ``relay``: a central is configured, so
    a number this kiosk does not hold is asked there (see :class:`Relay`). Not here and not asked: ``offline``
    when the sync process is not running, ``busy`` when every waiting slot is taken.
    """
    record = store.submission(number)
    if record is not None:
        full = own or store.status_code_matches(number, code)
        view = StatusView(number, True, full, status=record["status"], code_refused=bool(code) and not full)
        if full:
            view.kind, view.at_ms, view.due_date = record["kind"], record["at"], record["due_date"]
            view.answer, view.answered_at = record["answer"], record["answered_at"]
            view.due_kind, view.attachments = record.get("due_kind"), list(record.get("attachments") or [])
            view.sms = bool(record.get("notify_sms"))
        return view
    if relay is None:
        return StatusView(number, False)
    if not store.lookup_relay_running():  # nobody would answer: say so at once
        return StatusView(number, False, offline=True)
    if not relay.slots.acquire(blocking=False):
        return StatusView(number, False, busy=True)
    try:
        return _relayed(store, number, code, relay.wait_s)
    finally:
        relay.slots.release()


def _relayed(store: Store, number: str, code: str | None, wait_s: float) -> StatusView:
    lookup_id = store.ask_status_lookup(number, code)
    deadline = time.monotonic() + wait_s
    answer = None
    try:
        while answer is None and time.monotonic() < deadline:
            answer = store.take_status_lookup(lookup_id)
            if answer is None:
                time.sleep(POLL_S)
    finally:
        if answer is None:
            store.drop_status_lookup(lookup_id)
    if answer is None or "error" in answer:
        return StatusView(number, False, offline=True)
    if not answer.get("found"):
        return StatusView(number, False)
    full = bool(answer.get("full"))
    view = StatusView(number, True, full, status=str(answer.get("status") or SubmissionStatus.RECEIVED))
    view.code_refused = bool(code) and not full
    if full:
        view.kind, view.due_date = answer.get("kind"), answer.get("due_date")
        view.due_kind = answer.get("due_kind") if isinstance(answer.get("due_kind"), str) else None
        view.answer, view.answered_at = answer.get("answer"), answer.get("answered_at")
        view.at_ms = _ms(answer.get("submitted_at"))
    return view


def _ms(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


class ShownStatus:
    """The status results opened with their code, per kiosk session, kept on the server only: session token ->
    (registration number, status code as typed). So the same result can be shown again (in the other language,
    with a display mode) without the code ever being put in an address, a cookie or the browser's history.

    At most ``max_sessions`` sessions are held, each for ``ttl_s`` seconds at most after its last lookup; the idle
    reset ("Selesai") forgets a session's result at once (:meth:`forget`). Thread-safe."""

    def __init__(self, max_sessions: int = 256, ttl_s: float = 3600.0):
        self._held: TTLCache[str, tuple[str, str]] = TTLCache(max_sessions, ttl_s)
        self._lock = threading.Lock()

    def remember(self, token: str, number: str, code: str) -> None:
        """Keep ``code`` as the one that opened ``number`` in session ``token`` (the latest result only)."""
        with self._lock:
            self._held[token] = (number, code)

    def code_for(self, token: str | None, number: str) -> str | None:
        """The code that opened ``number`` in session ``token``, or None (another number, none, forgotten)."""
        if not token:
            return None
        with self._lock:
            held = self._held.get(token)
        return held[1] if held is not None and held[0] == number else None

    def forget(self, token: str) -> None:
        """Drop what session ``token`` opened (the idle reset)."""
        with self._lock:
            self._held.pop(token, None)
