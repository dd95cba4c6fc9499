"""Officers' accounts and server-side sessions, independent of HTTP.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile). A login
that fails ``MAX_FAILURES`` times in a row locks the account for ``LOCK_MS``; a success resets the count. The
count is atomic (concurrent logins cannot check more passwords than that), and a password is checked outside
any database connection, at most :class:`LoginGate` slots at once.
A session is a random token held by the browser; the database keeps only its sha256, so a stolen database
holds no usable session. A session ends at logout (on the server: the token no longer works even if the cookie
is replayed), when the account is disabled, or after ``idle_ms`` without a request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy.engine import Connection, Engine

from sync.central.backoffice.errors import BackofficeError, Conflict, LoginBusy, LoginRefused, NotFoundError
from sync.central.backoffice.models import opds, sessions, users
from sync.central.backoffice.roles import ROLES

MAX_FAILURES = 5
LOCK_MS = 15 * 60_000
MIN_PASSWORD = 12
TOUCH_EVERY_MS = 30_000  # a session's last-seen time is written at most this often
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}\Z")
_OPD_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}\Z")
_hasher = PasswordHasher()
# verified against when the name is unknown, so that a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Officer:
    """A logged-in officer as the views see them (Flask-Login's user object; ``get_id`` is the session token)."""

    id: int
    username: str
    role: str
    opd: str | None
    token: str

    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.token


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    """A new random password: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def add_user(
    engine: Engine, username: str, role: str, *, opd: str | None, password: str | None, now_ms: int
) -> str:
    """Create an officer's account; answer the password (generated when ``password`` is None).

    Raises BackofficeError (in the officer's words, as the users page shows it) for a bad name, role, OPD code
    or a too short password, or when the name is taken. A ``pelaksana`` needs an OPD; the OPD is created (named
    by its code) when it is new.
    """
    username = username.strip().lower()
    if not _USERNAME_RE.match(username):
        raise BackofficeError(_("Nama pengguna terdiri atas 2 sampai 64 huruf kecil, angka, titik, garis bawah "
                                "atau tanda hubung, tanpa spasi."))  # fmt: skip
    if role not in ROLES:
        raise BackofficeError(_("Pilih peran pengguna."))
    if role == "pelaksana" and not opd:
        raise BackofficeError(_("Petugas pelaksana bekerja untuk satu OPD: pilih OPD-nya."))
    if opd is not None and not _OPD_RE.match(opd):
        raise BackofficeError(
            _("Kode OPD terdiri atas huruf kecil, angka dan tanda hubung (paling banyak 32).")
        )
    password = password if password is not None else generate_password()
    if len(password) < MIN_PASSWORD:
        raise BackofficeError(_("Kata sandi paling sedikit %(count)d karakter.", count=MIN_PASSWORD))
    with engine.begin() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
            raise BackofficeError(_("Nama pengguna %(name)s sudah dipakai.", name=username))
        if opd and not conn.execute(sa.select(opds.c.code).where(opds.c.code == opd)).first():
            conn.execute(opds.insert().values(code=opd, name=opd.upper()))
        conn.execute(
            users.insert().values(
                username=username, role=role, opd=opd, password_hash=hash_password(password),
                active=True, failed_logins=0, created_ms=now_ms,
            )
        )  # fmt: skip
    return password


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username)).mappings().all()
    return [{k: v for k, v in row.items() if k != "password_hash"} for row in rows]


def user(conn: Connection, username: str) -> dict[str, Any]:
    row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    if row is None:
        raise NotFoundError(_("Tidak ada pengguna %(name)s.", name=username))
    return dict(row)


def set_active(engine: Engine, username: str, active: bool, now_ms: int) -> None:
    """Enable or disable an account. Disabling ends every session of it on the server at once (``ended_ms``),
    so that enabling it again later revives no old cookie: the officer logs in anew.

    Raises NotFoundError for an unknown name, and Conflict when disabling the last active admin (nobody would
    be left to manage accounts, gateways and settings). The active admins are locked while counted, so that two
    admins disabling each other at once cannot both succeed.
    """
    with engine.begin() as conn:
        found = user(conn, username)
        if not active and found["active"] and found["role"] == "admin":
            _keep_an_admin(conn, found["id"])
        conn.execute(users.update().where(users.c.id == found["id"]).values(active=active, failed_logins=0,
                                                                            locked_until_ms=None))  # fmt: skip
        if not active:
            conn.execute(sessions.update().where(sessions.c.user_id == found["id"], sessions.c.ended_ms.is_(None))
                         .values(ended_ms=now_ms))  # fmt: skip


def _keep_an_admin(conn: Connection, leaving: int) -> None:
    """Raise Conflict unless an active admin other than user ``leaving`` remains."""
    query = sa.select(users.c.id).where(users.c.role == "admin", users.c.active.is_(True))
    admins = conn.execute(query.with_for_update()).scalars().all()
    if not set(admins) - {leaving}:
        raise Conflict(
            _("Akun ini adalah satu-satunya admin yang aktif: aktifkan atau buat admin lain dahulu.")
        )


def unlock(engine: Engine, username: str) -> dict[str, Any]:
    """End an account's lockout after failed logins (and forget its failed attempts); answer what it was:
    ``{"locked_until_ms", "failed_logins"}``. Raises NotFoundError for an unknown name."""
    with engine.begin() as conn:
        found = user(conn, username)
        conn.execute(
            users.update().where(users.c.id == found["id"]).values(failed_logins=0, locked_until_ms=None)
        )
    return {"locked_until_ms": found["locked_until_ms"], "failed_logins": found["failed_logins"]}


def reset_password(engine: Engine, username: str) -> str:
    """A new generated password for an account (its sessions end); answer the password."""
    password = generate_password()
    with engine.begin() as conn:
        found = user(conn, username)
        conn.execute(
            users.update().where(users.c.id == found["id"]).values(password_hash=hash_password(password))
        )
        conn.execute(sessions.delete().where(sessions.c.user_id == found["id"]))
    return password


WRONG = "wrong user name or password"
LOCKED = "this account is locked for a while after too many failed logins"


class LoginGate:
    """At most ``slots`` password checks at once in this process; a login that finds none free within
    ``wait_s`` seconds is refused with LoginBusy (answered 503), never queued on the database's pool.

    An argon2id check costs tens of milliseconds of CPU and 64 MiB of memory; a login flood must not starve the
    sync API, Open311 or the officers already at work. ``slots`` should be smaller than the database pool
    (``init_app`` takes pool size + overflow - 1), although a check never holds a connection.
    """

    def __init__(self, slots: int, wait_s: float = 10.0):
        self.slots = max(1, slots)
        self.wait_s = wait_s
        self._free = threading.BoundedSemaphore(self.slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self.wait_s):
            raise LoginBusy("too many logins at once; try again in a moment")
        try:
            yield
        finally:
            self._free.release()


_UNBOUNDED = LoginGate(1 << 16)


def log_in(
    engine: Engine, username: str, password: str, now_ms: int, gate: LoginGate | None = None
) -> Officer:
    """Check a name and password and open a session; raise LoginRefused (one message for every cause), or
    LoginBusy when ``gate`` has no free slot in time.

    No connection and no transaction is held while the password is checked: the account is read in one short
    read, an attempt is reserved in one short atomic write, the hash is checked (inside ``gate``), and the
    outcome is written in one more short write. The attempt is counted *before* the check with
    ``UPDATE ... SET failed_logins = failed_logins + 1 ... RETURNING`` on an account that is not locked, so
    concurrent wrong logins can never check more than ``MAX_FAILURES`` passwords before the lock, and a locked
    account costs no hash at all. A success resets the count.
    """
    gate = gate or _UNBOUNDED
    username = username.strip().lower()
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    if row is None:
        with gate.slot():
            _verify(_DUMMY_HASH, password)  # a wrong name costs as long as a wrong password
        raise LoginRefused(WRONG)
    attempt = _reserve_attempt(engine, row["id"], now_ms)
    if attempt is None:
        raise LoginRefused(LOCKED)
    if attempt > MAX_FAILURES:  # others are checking the last allowed attempts right now
        raise LoginRefused(LOCKED)
    with gate.slot():
        right = _verify(row["password_hash"], password)
    if not right or not row["active"]:
        if attempt >= MAX_FAILURES:
            with engine.begin() as conn:
                conn.execute(
                    users.update().where(users.c.id == row["id"]).values(locked_until_ms=now_ms + LOCK_MS)
                )
        raise LoginRefused(WRONG)
    rehash = hash_password(password) if _hasher.check_needs_rehash(row["password_hash"]) else None
    with engine.begin() as conn:
        token = _open_session(conn, row, rehash, now_ms)
    return Officer(row["id"], row["username"], row["role"], row["opd"], token)


def _reserve_attempt(engine: Engine, user_id: int, now_ms: int) -> int | None:
    """Count one login attempt atomically; answer its number since the last success (or since the last lock
    ended), or None when the account is locked now."""
    expired = sa.and_(users.c.locked_until_ms.is_not(None), users.c.locked_until_ms <= now_ms)
    statement = (
        users.update()
        .where(
            users.c.id == user_id,
            sa.or_(users.c.locked_until_ms.is_(None), users.c.locked_until_ms <= now_ms),
        )
        .values(
            failed_logins=sa.case((expired, 1), else_=users.c.failed_logins + 1),
            locked_until_ms=sa.case((expired, sa.null()), else_=users.c.locked_until_ms),
        )
        .returning(users.c.failed_logins)
    )
    with engine.begin() as conn:
        count = conn.execute(statement).scalar()
    return None if count is None else int(count)


def _open_session(conn: Connection, row: Any, rehash: str | None, now_ms: int) -> str:
    values: dict[str, Any] = {"failed_logins": 0, "locked_until_ms": None, "last_login_ms": now_ms}
    if rehash is not None:
        values["password_hash"] = rehash
    conn.execute(users.update().where(users.c.id == row["id"]).values(**values))
    token = secrets.token_urlsafe(32)
    conn.execute(sessions.insert().values(token_hash=_token_hash(token), user_id=row["id"],
                                          created_ms=now_ms, last_seen_ms=now_ms))  # fmt: skip
    return token


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_session(
    engine: Engine, token: str, now_ms: int, idle_ms: int, on_idle: Callable[[], object] | None = None
) -> Officer | None:
    """The officer of a live session, or None (unknown, ended, idle too long, account disabled). A live session
    found idle longer than ``idle_ms`` is ended here, and ``on_idle()`` called (the login page then says why)."""
    key = _token_hash(token)
    query = (
        sa.select(sessions.c.last_seen_ms, users.c.id, users.c.username, users.c.role, users.c.opd)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == key, sessions.c.ended_ms.is_(None), users.c.active.is_(True))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    if now_ms - row.last_seen_ms > idle_ms:
        end_session(engine, token, now_ms)
        if on_idle is not None:
            on_idle()
        return None
    if now_ms - row.last_seen_ms > TOUCH_EVERY_MS:
        with engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.token_hash == key).values(last_seen_ms=now_ms))
    return Officer(row.id, row.username, row.role, row.opd, token)


def end_session(engine: Engine, token: str, now_ms: int) -> None:
    """End a session on the server (logout, idle): its token never works again."""
    with engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.token_hash == _token_hash(token), sessions.c.ended_ms.is_(None))
            .values(ended_ms=now_ms)
        )


class UnknownOpd(ValueError):
    """An OPD code that is not one of the OPDs the back office knows (``bo_opds``); its message is one line
    listing the known codes. ``code`` is the code given, ``known`` the known codes, sorted."""

    def __init__(self, code: str, known: list[str]) -> None:
        self.code, self.known = code, known
        listed = ", ".join(known) if known else "none yet (add one: anjungan central add-opd CODE NAME)"
        super().__init__(f"unknown OPD {code!r}; known OPDs: {listed}")


def check_opd(conn: Connection, code: str) -> str:
    """``code`` when it is a known OPD (a row of ``bo_opds``), the one check of every producer an officer sets
    for a node or a kiosk (the fleet's ``fleet node --producer``, open data's ``set-place --producer`` and the
    back office's node form); raises :class:`UnknownOpd` otherwise."""
    known = [str(c) for c in conn.execute(sa.select(opds.c.code).order_by(opds.c.code)).scalars()]
    if code not in known:
        raise UnknownOpd(code, known)
    return code


def opd_names(conn: Connection) -> dict[str, str]:
    """Every known OPD's code -> its name."""
    return {str(r.code): str(r.name) for r in conn.execute(sa.select(opds.c.code, opds.c.name))}


class UnknownOfficer(ValueError):
    """A name given as who acts (``--by`` of the central's commands) that is no active officer's account."""


def check_officer(engine: Engine, name: str) -> str:
    """The account name of the active officer called ``name`` (case and spaces ignored), the one check of every
    ``--by`` of ``anjungan central`` (whoever the audit trail names must be someone the back office knows);
    raises :class:`UnknownOfficer`, in one line saying what it must be, otherwise."""
    username = name.strip().lower()
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(users.c.username).where(users.c.username == username, users.c.active.is_(True))
        ).first()
    if found is None:
        raise UnknownOfficer(f"--by {name!r} is not an active officer's account: give the account name of the "
                             "officer who does this (see the back office's Pengguna page, or add-user)")  # fmt: skip
    return username


def list_opds(engine: Engine) -> list[dict[str, str]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(opds).order_by(opds.c.code)).mappings()]


def save_opd(engine: Engine, code: str, name: str) -> None:
    """Add an OPD or rename one; BackofficeError for a bad code or an empty name."""
    if not _OPD_RE.match(code) or not name.strip():
        raise BackofficeError(_("OPD memerlukan kode (huruf kecil, angka, tanda hubung; paling banyak 32) dan "
                                "nama."))  # fmt: skip
    with engine.begin() as conn:
        if conn.execute(sa.select(opds.c.code).where(opds.c.code == code)).first():
            conn.execute(opds.update().where(opds.c.code == code).values(name=name.strip()))
        else:
            conn.execute(opds.insert().values(code=code, name=name.strip()))
