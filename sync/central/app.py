"""The central's Flask application: the sync API under /api/v1 and the officers' back office (login at /)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, jsonify
from sqlalchemy.engine import Engine, make_url
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.errors import AnjunganError, ConfigError
from sync import protocol
from sync.central import db, errors, sealing, service
from sync.central import settings as settings_mod
from sync.central.settings import CentralSettings

DEFAULT_DB = settings_mod.DEFAULT_DB
DB_ENV = settings_mod.DB_ENV
MAX_BODY = 16 << 20  # bytes of one request body as sent
MAX_INFLATED = 64 << 20  # bytes of one batch once gunzipped


class InflightBudget:
    """Bytes one process may hold for requests in flight (``inflight_mb``), shared by all, and a share per
    claimed gateway id (``per_sender``: one body of the largest size), so that whoever names an id can hold at
    most that id's share: a forger slows only the gateway it names (a real gateway sends one request at a time).

    Requests take from it through a :class:`Reservation` (bodies as they are spooled, then held, inflated
    bytes, the estimated memory of decoded records); all of it is given back when the request ends. A request
    that finds no room waits up to ``wait_s``, then gets :class:`errors.Unavailable` (503 busy). A request
    that holds everything taken may go on beyond ``capacity`` (one large batch alone is never refused for
    the budget's sake; its own limits bound it).
    """

    def __init__(self, capacity: int, per_sender: int = MAX_BODY):
        self.capacity = capacity
        self.per_sender = per_sender
        self.used = 0
        self.peak = 0
        self.senders: dict[str, int] = {}
        self._cond = threading.Condition()

    def reservation(self, wait_s: float) -> Reservation:
        """A new, empty reservation; give it back with ``close()`` (or use it as a context manager)."""
        return Reservation(self, wait_s)

    def _take(self, res: Reservation, size: int, sender: str | None, of_sender: int) -> None:
        deadline = time.monotonic() + res.wait_s
        of_sender = min(of_sender, self.per_sender)
        with self._cond:
            while True:
                mine = self.senders.get(sender, 0) if sender is not None else 0
                sender_full = sender is not None and mine + of_sender > self.per_sender
                shared_full = self.used + size > self.capacity and self.used > res.held
                if not sender_full and not shared_full:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    why = (
                        "another request of this gateway is in flight"
                        if sender_full
                        else "too many requests in flight"
                    )
                    raise errors.Unavailable(db.BUSY, why)
                self._cond.wait(left)
            self.used += size
            self.peak = max(self.peak, self.used)
            if sender is not None:
                self.senders[sender] = self.senders.get(sender, 0) + of_sender
        res.held += size
        if sender is not None:
            res.sender_held[sender] = res.sender_held.get(sender, 0) + of_sender

    def _give_back(self, res: Reservation) -> None:
        with self._cond:
            self.used -= res.held
            for sender, size in res.sender_held.items():
                left = self.senders[sender] - size
                if left:
                    self.senders[sender] = left
                else:
                    del self.senders[sender]
            self._cond.notify_all()
        res.held = 0
        res.sender_held = {}


class Reservation:
    """What one request holds of an :class:`InflightBudget`; ``take`` more as it grows, ``close`` at the end."""

    def __init__(self, budget: InflightBudget, wait_s: float):
        self.budget = budget
        self.wait_s = wait_s
        self.held = 0
        self.sender_held: dict[str, int] = {}

    def take(self, size: int, sender: str | None = None, of_sender: int = 0) -> None:
        """Hold ``size`` more bytes of the shared budget and ``of_sender`` bytes of the claimed gateway id
        ``sender``'s share; waits up to ``wait_s`` for room, then raises :class:`errors.Unavailable`."""
        size = max(size, 0)
        if size or (sender is not None and of_sender > 0):
            self.budget._take(self, size, sender, max(of_sender, 0))

    def close(self) -> None:
        self.budget._give_back(self)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CentralState:
    """The central's own state, what its views and commands share (a gateway's connection to a central is
    :class:`sync.client.transport.CentralLink`): the engine, the master key, where files live, settings, limits and the clock.

    ``files_dir`` is None when no files folder is configured (a PostgreSQL central without
    ``ANJUNGAN_CENTRAL_SERVER_FILES``): serving and publishing files then refuse with a plain error.
    """

    engine: Engine
    master_key: bytes
    files_dir: Path | None
    settings: CentralSettings = field(default_factory=CentralSettings)
    max_inflated: int = MAX_INFLATED
    clock: Callable[[], float] = time.time
    inflight: InflightBudget = field(default_factory=lambda: InflightBudget(64 << 20))
    max_records: int = 50_000

    def secret(self, gateway_id: str) -> str | None:
        """The gateway's current secret, or None when it is unknown or removed.

        Read from the database on every request (one primary-key lookup), never cached: a secret rotated or a
        gateway removed by ``anjungan central`` counts on the next request in every worker process.
        """
        return service.gateway_secret(self.engine, self.master_key, gateway_id)

    def files(self) -> Path:
        """The files folder; raises CentralError when none is configured."""
        if self.files_dir is None:
            raise errors.CentralError(
                "no files folder configured: set ANJUNGAN_CENTRAL_SERVER_FILES (or --files-dir)"
            )
        return self.files_dir


def central() -> CentralState:
    return current_app.extensions["anjungan.central"]


def default_paths(db_url: str) -> tuple[Path | None, Path | None]:
    """The files folder and master key file when not configured: beside a SQLite database file; None for
    any other database (PostgreSQL), so that no command ever depends on the working directory."""
    url = make_url(db.normalise_url(db_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        base = Path(url.database).parent
        return base / "central-files", base / "central.key"
    return None, None


def require_database(db_url: str) -> None:
    """Refuse a SQLite database file that does not exist (ConfigError, one line naming the path), so that a
    command other than ``serve`` and ``add-gateway`` creates nothing in the working folder. An in-memory
    database, a SQLite URI and any other database (PostgreSQL) pass."""
    url = make_url(db.normalise_url(db_url))
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return
    if not Path(name).exists():
        raise ConfigError(
            f"no central database at {Path(name).absolute()}: pass --db or set {settings_mod.DB_ENV}"
        )


def open_central(
    db_url: str | None = None,
    *,
    files_dir: Path | None = None,
    key_file: Path | None = None,
    migrate: bool = True,
    engine_options: dict[str, Any] | None = None,
    settings: CentralSettings | None = None,
) -> CentralState:
    """Connect to (and migrate) the database and load the master key.

    Settings come from ``settings`` or the environment (:mod:`sync.central.settings`); ``db_url``,
    ``files_dir`` and ``key_file`` win over both. Raises ConfigError for a bad or missing setting (on
    PostgreSQL the master key must be configured) and when the connection pools cannot fit the server.
    """
    settings = settings or CentralSettings.from_env()
    settings = replace(
        settings,
        db=db_url or settings.db,
        files=str(files_dir) if files_dir else settings.files,
        key_file=str(key_file) if key_file else settings.key_file,
    )
    default_files, default_key = default_paths(settings.db)
    key_path = settings.key_path() or default_key
    if not settings.key and key_path is None:
        raise ConfigError(
            "the central's master key is not configured: set ANJUNGAN_CENTRAL_SERVER_KEY_FILE "
            "(or ANJUNGAN_CENTRAL_SERVER_KEY); on PostgreSQL there is no default"
        )
    engine = db.make_engine(settings.db, settings, **(engine_options or {}))
    try:
        if migrate:
            db.migrate(engine)
        db.check_connection_budget(engine, settings)
        # a new master key only for a database that holds no sealed secret (a mistyped path must not
        # silently make one that opens none of them)
        master_key = sealing.load_master_key(
            key_path, settings.key, create=not db.holds_sealed_secrets(engine)
        )
    except BaseException:
        engine.dispose()
        raise
    return CentralState(
        engine=engine,
        master_key=master_key,
        files_dir=settings.files_dir() or default_files,
        settings=settings,
        inflight=InflightBudget(settings.inflight_mb << 20),
        max_records=settings.max_records,
    )


def create_app(
    db_url: str | None = None,
    *,
    files_dir: Path | None = None,
    key_file: Path | None = None,
    max_body: int = MAX_BODY,
    max_inflated: int = MAX_INFLATED,
    clock: Callable[[], float] = time.time,
    engine_options: dict[str, Any] | None = None,
    settings: CentralSettings | None = None,
) -> Flask:
    """The central as a WSGI app; the database is migrated to the newest schema before it answers."""
    from sync.central import backoffice, lookup, opendata
    from sync.central.api import api

    state = open_central(
        db_url,
        files_dir=files_dir,
        key_file=key_file,
        engine_options=engine_options,
        settings=settings,
    )
    state.max_inflated, state.clock = max_inflated, clock
    state.inflight.per_sender = max_body  # one body of the largest size per claimed gateway id
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=max_body, JSON_SORT_KEYS=False)
    app.extensions["anjungan.central"] = state
    app.register_blueprint(api, url_prefix=protocol.API_PREFIX)
    lookup.init_app(app)
    opendata.init_app(app, state.engine)
    app.register_error_handler(AnjunganError, _anjungan_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(errors.Unavailable, _unavailable)
    app.register_error_handler(sa.exc.DBAPIError, _database_error)
    app.register_error_handler(sa.exc.TimeoutError, _database_error)
    backoffice.init_app(app, state.master_key)
    if state.settings.proxy_count:  # the client's address, scheme and host as the trusted proxies report them
        hops = state.settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    return app


def _unavailable(err: errors.Unavailable) -> tuple[Response, int]:
    """503 with Retry-After and the reason in a word the gateway can show ("busy", "disk full", ...)."""
    retry = central().settings.retry_after_s * (10 if err.reason == db.DISK_FULL else 1)
    body, status = errors.answer(err)
    response = jsonify(body)
    response.headers["Retry-After"] = str(retry)
    return response, status


def _database_error(err: Exception) -> tuple[Response, int]:
    reason = db.unavailable_reason(err)
    if reason is None:
        current_app.logger.error("unexpected database error: %s", err)
        return _json_answer(AnjunganError("unexpected database error"))
    current_app.logger.warning("database %s: %s", reason, str(err).splitlines()[0][:200])
    return _unavailable(errors.Unavailable(reason, f"the central's database is {_REASON_TEXT[reason]}"))


_REASON_TEXT = {db.BUSY: "busy", db.DISK_FULL: "out of disk space", db.UNAVAILABLE: "not reachable"}


def _anjungan_error(err: AnjunganError) -> tuple[Response, int]:
    """Any error of ours: the status and word its class names (sync/central/errors.py); one without a status is
    a fault of ours (500 ``internal``, logged)."""
    if err.status is None:
        current_app.logger.error("unexpected error: %s", err)
    return _json_answer(err)


def _json_answer(err: AnjunganError) -> tuple[Response, int]:
    body, status = errors.answer(err)
    return jsonify(body), status


def http_error(err: HTTPException) -> tuple[Response, int]:
    """An HTTP error as the machine interfaces answer it: JSON ``{"error": words, "detail": text}``."""
    code = err.code or 500
    names = {413: "too large", 404: "not found", 405: "method not allowed", 416: "range not satisfiable"}
    return jsonify({"error": names.get(code, (err.name or "error").lower()), "detail": err.description}), code
