"""Queries the kiosk needs beyond the Store's API: alert state transitions, submission lists, versions.

Kept apart so that the store's core stays small; every function takes a :class:`~gateway.store.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.store import db

ALERT_META_PREFIX = "kiosk.alert."


def alert_transition(store: Any, key: str, active: bool, data: Mapping[str, Any], node: str | None) -> bool:
    """Record that alert ``key`` is now ``active``; True when this call changed its state.

    The state lives in ``meta`` and is compared and changed in one ``BEGIN IMMEDIATE`` transaction together
    with the ``alert`` / ``alert_cleared`` event, so the event is recorded exactly once per crossing however
    many threads or processes evaluate the same reading.
    """
    meta_key = ALERT_META_PREFIX + key
    conn = store.conn
    with db.transaction(conn, "recording an alert"):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (meta_key,)).fetchone()
        was_active = bool(row and json.loads(row[0]).get("active"))
        if was_active == active:
            return False
        now = store.clock.now_ms()
        state = {"active": active, "since": now, **data}
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (meta_key, json.dumps(state, ensure_ascii=False)),
        )
        conn.execute(
            "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
            (now, store.clock_offset(), node, "alert" if active else "alert_cleared",
             json.dumps({"alert": key, **data}, ensure_ascii=False, separators=(",", ":"))),
        )  # fmt: skip
    return True


def alert_states(store: Any) -> dict[str, dict[str, Any]]:
    """Every recorded alert state by key."""
    rows = store.conn.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ?", (ALERT_META_PREFIX, ALERT_META_PREFIX + "~")
    )
    return {key[len(ALERT_META_PREFIX) :]: json.loads(value) for key, value in rows}


def recent_submissions(store: Any, limit: int = 100) -> list[dict[str, Any]]:
    """The newest submissions for the operator: number, kind, day, status, due date — no personal data."""
    rows = store.conn.execute(
        "SELECT number, kind, day, status, due_date, answered_at, personal IS NOT NULL FROM submissions "
        "ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
    names = ("number", "kind", "day", "status", "due_date", "answered_at", "holds_personal")
    return [dict(zip(names, row, strict=True)) for row in rows]


def submission_counts(store: Any) -> dict[str, int]:
    """Open submissions per status."""
    rows = store.conn.execute("SELECT status, count(*) FROM submissions GROUP BY status ORDER BY status")
    return {status: count for status, count in rows}


def content_version(store: Any) -> tuple[int, int]:
    """(count, newest updated_at) of the content table: changes whenever the central's content does."""
    count, newest = store.conn.execute(
        "SELECT count(*), coalesce(max(updated_at), 0) FROM content"
    ).fetchone()
    return int(count), int(newest)


# -- operator sessions and login failures (kept in meta, so that every kiosk process sees the same) ---------
OPERATOR_SESSION_PREFIX = "kiosk.operator.session."
LOGIN_FAILURES_PREFIX = "kiosk.operator.failures."


def _session_key(session_id: str) -> str:
    import hashlib

    return OPERATOR_SESSION_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def operator_session_start(store: Any, max_age_ms: int) -> str:
    """A new operator session; returns its id (for the signed cookie; only its hash is stored).

    Sessions older than ``max_age_ms`` are removed at the same time.
    """
    import secrets

    session_id = secrets.token_urlsafe(32)
    now = db.now_ms()
    conn = store.conn
    with db.transaction(conn, "starting an operator session"):
        for key, value in conn.execute(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
            (OPERATOR_SESSION_PREFIX, OPERATOR_SESSION_PREFIX + "~"),
        ).fetchall():
            if json.loads(value)["created"] < now - max_age_ms:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            (_session_key(session_id), json.dumps({"created": now, "seen": now})),
        )
    return session_id


def operator_session_valid(store: Any, session_id: str | None, idle_ms: int, max_age_ms: int) -> bool:
    """Whether ``session_id`` names a live session: started, not ended, used within ``idle_ms`` and younger than
    ``max_age_ms``. A live session's last use is updated (at most every few seconds); a dead one is removed."""
    if not session_id or not isinstance(session_id, str):
        return False
    key = _session_key(session_id)
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        return False
    state = json.loads(row[0])
    now = db.now_ms()
    if now - state["seen"] > idle_ms or now - state["created"] > max_age_ms:
        operator_session_end(store, session_id)
        return False
    if now - state["seen"] > 5_000:
        store.set_meta(key, json.dumps({**state, "seen": now}))
    return True


def operator_session_end(store: Any, session_id: str | None) -> None:
    """End a session (logout, the idle reset); harmless for an unknown or missing id."""
    if session_id and isinstance(session_id, str):
        store.set_meta(_session_key(session_id), None)


def login_locked_for(store: Any, account: str) -> float:
    """Seconds until ``account`` may try to log in again (0 when it may now)."""
    value = store.get_meta(LOGIN_FAILURES_PREFIX + account)
    if value is None:
        return 0.0
    return max(0.0, (json.loads(value)["locked_until"] - db.now_ms()) / 1000)


def login_attempt(store: Any, account: str, free: int, base_s: float, cap_s: float) -> float:
    """Begin a login of ``account``, atomically: 0.0 when its password may be checked now, else the seconds it is
    still locked for (that attempt is refused and not counted).

    An attempt that may go on is counted as a failure *before* the password is checked, in the same ``BEGIN
    IMMEDIATE`` transaction that looked at the lock, so parallel attempts cannot all pass the check before any
    is recorded (a success then clears the count: :func:`login_succeeded`). The first ``free`` failures cost
    nothing; each one after locks the account for ``base_s`` doubled per further failure, at most ``cap_s``,
    whichever address the attempts come from. So however many attempts arrive at once, at most ``free`` + 1
    passwords are checked before the lock. Raises StoreError when the store cannot be written.
    """
    key = LOGIN_FAILURES_PREFIX + account
    now = db.now_ms()
    conn = store.conn
    with db.transaction(conn, "counting a login attempt"):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        state = json.loads(row[0]) if row else {"failures": 0, "locked_until": 0}
        if state["locked_until"] > now:
            return (state["locked_until"] - now) / 1000
        failures = state["failures"] + 1
        lock_s = 0.0 if failures <= free else min(cap_s, base_s * 2 ** (failures - free - 1))
        state = {"failures": failures, "last_at": now, "locked_until": now + int(lock_s * 1000)}
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(state)),
        )
    return 0.0


def login_succeeded(store: Any, account: str) -> None:
    """Forget the failed logins of ``account``."""
    store.set_meta(LOGIN_FAILURES_PREFIX + account, None)
