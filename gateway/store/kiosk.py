"""The kiosk's own state in the store's meta: alert states (an event per crossing), operator sessions and
failed logins, so that every kiosk process sees the same."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.backoff import pause_after
from gateway.store import db
from gateway.store.base import StoreBase

ALERT_META_PREFIX = "kiosk.alert."
OPERATOR_SESSION_PREFIX = "kiosk.operator.session."
LOGIN_FAILURES_PREFIX = "kiosk.operator.failures."


def _session_key(session_id: str) -> str:
    import hashlib

    return OPERATOR_SESSION_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


class KioskMixin(StoreBase):
    """The kiosk's state of :class:`~gateway.store.Store`."""

    def alert_transition(self, key: str, active: bool, data: Mapping[str, Any], node: str | None) -> bool:
        """Record that alert ``key`` is now ``active``; True when this call changed its state.

        The state lives in ``meta`` and is compared and changed in one ``BEGIN IMMEDIATE`` transaction together
        with the ``alert`` / ``alert_cleared`` event, so the event is recorded exactly once per crossing however
        many threads or processes evaluate the same reading.
        """
        meta_key = ALERT_META_PREFIX + key
        conn = self.conn
        with db.transaction(conn, "recording an alert"):
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (meta_key,)).fetchone()
            was_active = bool(row and json.loads(row[0]).get("active"))
            if was_active == active:
                return False
            now = self.clock.now_ms()
            state = {"active": active, "since": now, **data}
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (meta_key, json.dumps(state, ensure_ascii=False)),
            )
            conn.execute(
                "INSERT INTO events (at, offset, node, kind, data) VALUES (?, ?, ?, ?, ?)",
                (now, self.clock_offset(), node, "alert" if active else "alert_cleared",
                 json.dumps({"alert": key, **data}, ensure_ascii=False, separators=(",", ":"))),
            )  # fmt: skip
        return True

    def alert_states(self) -> dict[str, dict[str, Any]]:
        """Every recorded alert state by key."""
        rows = self.reader.execute(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
            (ALERT_META_PREFIX, ALERT_META_PREFIX + "~"),
        )
        return {key[len(ALERT_META_PREFIX) :]: json.loads(value) for key, value in rows}

    # -- operator sessions and login failures (kept in meta, so that every kiosk process sees the same) ---------

    def operator_session_start(self, max_age_ms: int) -> str:
        """A new operator session; returns its id (for the signed cookie; only its hash is stored).

        Sessions older than ``max_age_ms`` are removed at the same time.
        """
        import secrets

        session_id = secrets.token_urlsafe(32)
        now = db.now_ms()
        conn = self.conn
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

    def operator_session_valid(self, session_id: str | None, idle_ms: int, max_age_ms: int) -> bool:
        """Whether ``session_id`` names a live session: started, not ended, used within ``idle_ms`` and younger than
        ``max_age_ms``. A live session's last use is updated (at most every few seconds); a dead one is removed."""
        if not session_id or not isinstance(session_id, str):
            return False
        key = _session_key(session_id)
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return False
        state = json.loads(row[0])
        now = db.now_ms()
        if now - state["seen"] > idle_ms or now - state["created"] > max_age_ms:
            self.operator_session_end(session_id)
            return False
        if now - state["seen"] > 5_000:
            self.set_meta(key, json.dumps({**state, "seen": now}))
        return True

    def operator_session_end(self, session_id: str | None) -> None:
        """End a session (logout, the idle reset); harmless for an unknown or missing id."""
        if session_id and isinstance(session_id, str):
            self.set_meta(_session_key(session_id), None)

    def login_locked_for(self, account: str) -> float:
        """Seconds until ``account`` may try to log in again (0 when it may now)."""
        value = self.get_meta(LOGIN_FAILURES_PREFIX + account)
        if value is None:
            return 0.0
        return max(0.0, (int(json.loads(value)["locked_until"]) - db.now_ms()) / 1000)

    def login_attempt(self, account: str, free: int, base_s: float, cap_s: float) -> float:
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
        conn = self.conn
        with db.transaction(conn, "counting a login attempt"):
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            state = json.loads(row[0]) if row else {"failures": 0, "locked_until": 0}
            if state["locked_until"] > now:
                return (state["locked_until"] - now) / 1000
            failures = state["failures"] + 1
            lock_s = pause_after(failures - free, base_s, cap_s)  # 0 while within the free attempts
            state = {"failures": failures, "last_at": now, "locked_until": now + int(lock_s * 1000)}
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(state)),
            )
        return 0.0

    def login_succeeded(self, account: str) -> None:
        """Forget the failed logins of ``account``."""
        self.set_meta(LOGIN_FAILURES_PREFIX + account, None)
