"""The central's database: SQLAlchemy Core tables, engines for SQLite and PostgreSQL, migrations at start."""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine

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

STREAM_TABLES = {"readings": readings, "events": events, "submissions": submissions}

_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=30000")


def normalise_url(url: str) -> str:
    """Map plain ``postgresql://`` (and ``postgres://``) URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the central's database; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` writes."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 40)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_begin
    for pragma in _SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def _sqlite_begin(connection: sa.Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, scripts shipped inside this package)."""
    config = Config()
    config.set_main_option("script_location", "sync.central:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


sa.Index("submissions_number", submissions.c.gateway_id, submissions.c.number)
