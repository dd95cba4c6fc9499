"""The central's database: SQLAlchemy Core tables, engines for SQLite and PostgreSQL, migrations at start."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from gateway.errors import ConfigError
from gateway.vocabulary import SKM_ELEMENTS, Stream
from sync.central.settings import CentralSettings

metadata = sa.MetaData()

gateways = sa.Table(
    "gateways",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger),
    sa.Column("last_batch_ms", sa.BigInteger),
    sa.Column("backlog", sa.Text),  # JSON {stream: count} the gateway last reported still to send
    sa.Column("backlog_ms", sa.BigInteger),
)

stream_state = sa.Table(
    "stream_state",
    metadata,
    sa.Column("gateway_id", sa.String(64), sa.ForeignKey("gateways.id"), primary_key=True),
    sa.Column("stream", sa.String(16), primary_key=True),
    sa.Column("acked", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("stored", sa.BigInteger, nullable=False, server_default="0"),
)


def _time_columns() -> list[sa.Column]:
    return [
        sa.Column("at_ms", sa.BigInteger, nullable=False),  # the gateway's clock
        sa.Column("offset_ms", sa.BigInteger),  # null: the gateway's clock was not known good
        sa.Column("true_ms", sa.BigInteger),  # at_ms + offset_ms, the central's time; null when unknown
        sa.Column("clock_ok", sa.Boolean, nullable=False),
    ]


readings = sa.Table(
    "readings",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("node", sa.String(32), nullable=False),
    sa.Column("boot", sa.BigInteger, nullable=False),
    sa.Column("q", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("value", sa.Float(53), nullable=False),
    *_time_columns(),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("node", sa.String(64)),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    *_time_columns(),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("uuid", sa.String(64), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("due_date", sa.String(10)),
    sa.Column("public", sa.Text, nullable=False),
    sa.Column("personal", sa.Text),
    *_time_columns(),
    sa.Column("access_hash", sa.String(64)),  # the status code's hash (gateway.statuscode); null before codes
    sa.Column("notify_sms", sa.Boolean),  # the citizen asked for SMS (the record's "sms"; docs/sms.md)
)

# Everything that flows down to gateways: the current state of each item, with the change number (version) of
# its last change; a deleted item stays as a tombstone (op "delete") so that gateways learn of the deletion.
content = sa.Table(
    "content",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),  # "" = every gateway, else one gateway's id
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("item_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False, unique=True),
    sa.Column("op", sa.String(8), nullable=False),
    sa.Column("data", sa.Text),
    sa.Column("changed_ms", sa.BigInteger, nullable=False),
)

# Stream ``ratings`` (migration skm01): the citizens' anonymous satisfaction ratings (Survei Kepuasan
# Masyarakat, PermenPANRB 14/2017; docs/skm.md). Only the kiosk, the service rated, the day and the nine
# ratings (1-4, null when skipped): nothing that names or points at a citizen or a submission.
skm_ratings = sa.Table(
    "skm_ratings",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("uuid", sa.String(64), nullable=False),
    sa.Column("service", sa.String(16), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    *(sa.Column(element, sa.SmallInteger) for element in SKM_ELEMENTS),
)
sa.Index("skm_ratings_day", skm_ratings.c.day)

STREAM_TABLES: dict[str, sa.Table] = {
    Stream.READINGS: readings,
    Stream.EVENTS: events,
    Stream.SUBMISSIONS: submissions,
    Stream.RATINGS: skm_ratings,
}

# --- engines: durability, snapshots for reads, bounded waits, bounded pools --------------------------------
# An acknowledgement means the data is on disk: SQLite syncs every commit (synchronous=FULL; in WAL mode that
# is one fsync of the WAL per commit), PostgreSQL's sessions always run with synchronous_commit=on, whatever
# the server's or the database's default says.
SQLITE_SYNCHRONOUS = "FULL"
SNAPSHOT = "anjungan_snapshot"  # execution option: a read-only transaction (SQLite: BEGIN DEFERRED)


def normalise_url(url: str) -> str:
    """Map plain ``postgresql://`` (and ``postgres://``) URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, settings: CentralSettings | None = None, **kwargs: Any) -> Engine:
    """An engine for the central's database, bounded and durable as ``settings`` say.

    - SQLite: WAL, ``synchronous=FULL``, busy timeout = ``lock_timeout_s``; writes begin ``IMMEDIATE``, reads
      made through :func:`reading` begin deferred and run in a WAL snapshot without the write lock.
    - PostgreSQL: every session ``synchronous_commit=on``, ``statement_timeout``, ``lock_timeout`` and
      ``idle_session_timeout`` (idle pooled connections are closed by the server and replaced on checkout).
    - Both: a pool of ``pool_size`` (+ ``pool_overflow``) connections; a request that finds none free within
      ``pool_timeout_s`` gets :class:`sqlalchemy.exc.TimeoutError` (answered 503 busy).
    ``kwargs`` go to :func:`sqlalchemy.create_engine` and win over ``settings``.
    """
    settings = settings or CentralSettings()
    url = normalise_url(url)
    kwargs.setdefault("pool_pre_ping", True)
    if not (url.startswith("sqlite") and _memory(url)):
        kwargs.setdefault("pool_size", settings.pool_size)
        kwargs.setdefault("max_overflow", settings.pool_overflow)
        kwargs.setdefault("pool_timeout", settings.pool_timeout_s)
        kwargs.setdefault("pool_recycle", 3600)
    if url.startswith("sqlite"):
        _create_private(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, **kwargs)
        busy_ms = int(settings.lock_timeout_s * 1000)

        def connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_begin
            for pragma in (
                "PRAGMA journal_mode=WAL",
                f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}",
                f"PRAGMA busy_timeout={busy_ms}",
            ):
                dbapi_connection.execute(pragma)

        event.listen(engine, "connect", connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options = {
        "application_name": "anjungan-central",  # operators see the central's connections in pg_stat_activity
        "synchronous_commit": "on",
        "statement_timeout": int(settings.statement_timeout_s * 1000),
        "lock_timeout": int(settings.lock_timeout_s * 1000),
        "idle_session_timeout": int(settings.idle_s * 1000),
    }
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("options", " ".join(f"-c {k}={v}" for k, v in options.items()))
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


def _create_private(database: str | None) -> None:
    """Create a SQLite database file 0600 (its folder 0700) before SQLite does, whatever the umask: it holds
    every citizen's NIK. SQLite gives the ``-wal`` and ``-shm`` files the database file's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def _memory(url: str) -> bool:
    database = sa.engine.make_url(url).database
    return not database or database == ":memory:"


def _sqlite_begin(connection: sa.Connection) -> None:
    if connection.get_execution_options().get(SNAPSHOT):
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot in WAL, no write lock
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: one consistent snapshot that never takes (or waits for) the write lock."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{SNAPSHOT: True})
        with conn.begin():
            yield conn


def holds_sealed_secrets(engine: Engine) -> bool:
    """Whether any gateway's secret is sealed in this database (False too for one not migrated yet)."""
    if not sa.inspect(engine).has_table("gateways"):
        return False
    with reading(engine) as conn:
        return conn.execute(sa.select(gateways.c.id).limit(1)).first() is not None


def check_connection_budget(engine: Engine, settings: CentralSettings) -> None:
    """Refuse to start when ``workers`` × connections per process + the operators' reserve do not fit.

    PostgreSQL only (SQLite has no connection limit): ``max_connections`` less
    ``superuser_reserved_connections`` must hold every worker's pool at its fullest plus
    ``reserve_connections``. Raises ConfigError with the figures.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        limit = int(conn.exec_driver_sql("SHOW max_connections").scalar_one())
        superuser = int(conn.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    wanted = settings.workers * settings.connections_per_process + settings.reserve_connections
    if wanted > limit - superuser:
        raise ConfigError(
            f"the central's connections do not fit PostgreSQL's max_connections={limit} "
            f"(less {superuser} for superusers): {settings.workers} worker(s) x "
            f"{settings.connections_per_process} connection(s) + {settings.reserve_connections} reserved = "
            f"{wanted}; lower ANJUNGAN_CENTRAL_SERVER_POOL_SIZE or raise max_connections"
        )


# Why a database error means "try again later", in the words a 503 carries (None: not a database outage).
BUSY, DISK_FULL, UNAVAILABLE = "busy", "disk full", "database unavailable"
_PG_REASONS = {
    "57014": BUSY,  # query_canceled (statement_timeout)
    "55P03": BUSY,  # lock_not_available (lock_timeout)
    "53300": BUSY,  # too_many_connections
    "53200": BUSY,  # out_of_memory
    "40001": BUSY,  # serialization_failure
    "40P01": BUSY,  # deadlock_detected
    "53100": DISK_FULL,  # disk_full
    "57P01": UNAVAILABLE,  # admin_shutdown
    "57P02": UNAVAILABLE,  # crash_shutdown
    "57P03": UNAVAILABLE,  # cannot_connect_now
}


def unavailable_reason(err: BaseException) -> str | None:
    """``"busy"``, ``"disk full"`` or ``"database unavailable"`` when ``err`` is a database outage, else None."""
    if isinstance(err, sa.exc.TimeoutError):  # no free connection in the pool
        return BUSY
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return DISK_FULL
    if not isinstance(err, sa.exc.DBAPIError):
        return None
    original = err.orig
    code = getattr(original, "sqlstate", None)
    if code in _PG_REASONS:
        return _PG_REASONS[code]
    if code and code.startswith("08"):  # connection exceptions
        return UNAVAILABLE
    text = str(original).lower()
    if isinstance(original, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return BUSY
        if "full" in text:
            return DISK_FULL
        if "disk i/o" in text or "unable to open" in text:
            return UNAVAILABLE
    if err.connection_invalidated or "connection" in text and isinstance(err, sa.exc.OperationalError):
        return UNAVAILABLE
    return None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, scripts shipped inside this package)."""
    config = Config()
    config.set_main_option("script_location", "sync.central:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


sa.Index("submissions_number", submissions.c.gateway_id, submissions.c.number)


# --- credentials, audit and identities (migration 0003) ---------------------------------------------------
# gateways.removed_ms: set by `anjungan central remove-gateway`; such a gateway authenticates nothing.
# gateways.files_report: JSON {"missing", "failing"} the gateway last reported about documents' files.
gateways.append_column(sa.Column("removed_ms", sa.BigInteger))
gateways.append_column(sa.Column("files_report", sa.Text))

# Every change of a gateway's credentials, for the record: who ran what, when.
gateway_audit = sa.Table(
    "gateway_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("gateway_id", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),  # added, secret-rotated, removed
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),  # the operating-system user who ran the command
    sa.Column("detail", sa.Text),
)

# Which gateway an identity belongs to: a registration number's prefix ("number-prefix"), a sensor node
# ("node"), a submission's uuid ("uuid"). The first gateway to send one owns it; a record carrying an identity
# another gateway owns is refused (422), so that a gateway speaks only for itself.
identities = sa.Table(
    "identities",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(128), primary_key=True),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("claimed_ms", sa.BigInteger, nullable=False),
)
