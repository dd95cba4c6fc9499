"""The central's own settings: environment variables named ``ANJUNGAN_CENTRAL_SERVER_<KEY>``.

A gateway's configuration already owns ``ANJUNGAN_CENTRAL_<KEY>``: its ``[central]`` section says which central
it syncs *to* (url, gateway_id, secret). The central *server* (``anjungan central ...``, ``gunicorn
sync.central.wsgi:app``) therefore reads its settings from a namespace of its own, so that an operator can set
both in one shell. The database URL keeps its contract name ``ANJUNGAN_CENTRAL_DB`` (DESIGN.md, "the command
line"), which the gateway's configuration leaves alone.

Settings are data (:data:`SETTINGS`), like the gateway's: each has a key, a default, a type and a help text;
docs/central.md's table is made from this list by scripts/update-docs.py. An unknown
``ANJUNGAN_CENTRAL_SERVER_*`` variable, or one of the names these settings had before they moved here, is an
error that names it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from sync.central.fleet.settings import env_names as fleet_env_names
from sync.central.opendata.settings import SETTINGS as OPEN_DATA_SETTINGS
from sync.central.sms.settings import env_names as sms_env_names

PREFIX = "ANJUNGAN_CENTRAL_SERVER_"
DB_ENV = "ANJUNGAN_CENTRAL_DB"
DEFAULT_DB = "sqlite:///./central.db"
# the names these settings had before: they collided with the gateway's [central] section
RENAMED = {
    "ANJUNGAN_CENTRAL_FILES": PREFIX + "FILES",
    "ANJUNGAN_CENTRAL_KEY_FILE": PREFIX + "KEY_FILE",
    "ANJUNGAN_CENTRAL_KEY": PREFIX + "KEY",
}


@dataclass(frozen=True)
class Setting:
    """One setting of the central: ``key`` (attribute of :class:`CentralSettings`), default, type, help."""

    key: str
    default: Any
    help: str
    type: type = str

    @property
    def env_name(self) -> str:
        return DB_ENV if self.key == "db" else PREFIX + self.key.upper()


SETTINGS: list[Setting] = [
    Setting(
        "db",
        DEFAULT_DB,
        "SQLAlchemy URL of the central's database (`postgresql://...` at scale). Also `--db`.",
    ),
    Setting(
        "files",
        "",
        "Folder of the documents' files. Empty: `central-files` beside a SQLite database; required on "
        "PostgreSQL (never the working directory). Also `--files-dir`.",
    ),
    Setting(
        "key_file",
        "",
        "File of the master key that seals gateways' secrets. Empty: `central.key` beside a SQLite database; "
        "required on PostgreSQL unless `key` is set.",
    ),
    Setting("key", "", "The master key itself (any string); when set, `key_file` is not used."),
    Setting(
        "pool_size",
        4,
        "Database connections each central process keeps (PostgreSQL and SQLite). Keep it below the "
        "server's threads, so that requests needing no database always find a thread.",
        int,
    ),
    Setting(
        "pool_overflow",
        0,
        "Connections a process may open beyond `pool_size` at busy moments (closed when returned).",
        int,
    ),
    Setting(
        "pool_timeout_s",
        2.0,
        "Seconds a request waits for a free connection before it is answered 503 (busy).",
        float,
    ),
    Setting(
        "workers",
        1,
        "Processes that serve the central (gunicorn -w); with `pool_size` + `pool_overflow` it must fit "
        "PostgreSQL's max_connections, less `reserve_connections` (checked at start).",
        int,
    ),
    Setting(
        "reserve_connections",
        5,
        "PostgreSQL connections left free for operators (psql, `anjungan central set-status`, exports).",
        int,
    ),
    Setting(
        "idle_s",
        60.0,
        "Seconds after which PostgreSQL closes a pooled connection nobody used (idle_session_timeout).",
        float,
    ),
    Setting(
        "statement_timeout_s",
        20.0,
        "Longest run of one statement (PostgreSQL statement_timeout); below the gateways' request timeout "
        "(60 s), so that a slow database is answered 503 rather than a gateway giving up.",
        float,
    ),
    Setting(
        "lock_timeout_s",
        10.0,
        "Longest wait for a lock (PostgreSQL lock_timeout, SQLite busy timeout) before answering 503 (busy).",
        float,
    ),
    Setting(
        "retry_after_s",
        30,
        "The Retry-After (seconds) of a 503 answer; a full disk asks for ten times as long.",
        int,
    ),
    Setting(
        "inflight_mb",
        64,
        "MiB one process holds for requests in flight: bodies, inflated bytes and decoded records; a request "
        "that would exceed it waits `pool_timeout_s`, then gets 503 (busy). Each claimed gateway id may hold "
        "at most one body of the largest size (16 MiB) of it.",
        int,
    ),
    Setting(
        "max_records",
        50_000,
        "Most records in one batch (a gateway's batches hold up to 20,000 readings, 1,000 submissions or "
        "events); a larger batch gets 413.",
        int,
    ),
    Setting(
        "body_min_rate_kib",
        2.0,
        "KiB/s a request body must keep arriving at, on average, after `body_grace_s` (under gunicorn); a "
        "slower body is cut with 408, so that it cannot hold a worker thread and its reservation for ever.",
        float,
    ),
    Setting(
        "body_grace_s",
        10.0,
        "Seconds a request body may take before `body_min_rate_kib` applies.",
        float,
    ),
    Setting(
        "cookie_secure",
        False,
        "Send the back office's session cookie only over HTTPS (`Secure`); set it (`1`/`true`) when the central "
        "is served over HTTPS, e.g. behind a TLS-terminating proxy. Over HTTPS (as `proxy_count` proxies report "
        "it) the cookie is `Secure` anyway.",
        bool,
    ),
    Setting(
        "proxy_count",
        0,
        "Reverse proxies in front of the central that set `X-Forwarded-For` (appending), `X-Forwarded-Proto` "
        "and `X-Forwarded-Host`/`Host`, e.g. `1` behind one nginx. The central then takes the client's address, "
        "scheme and host from them (werkzeug's ProxyFix): for the login's rate limit and the audit trail, the "
        "secure cookie, `/metrics`' allow list and the status lookups' limit. `0`: the headers are ignored "
        "(anyone could forge them when no proxy sets them).",
        int,
    ),
]

_BY_ENV = {s.env_name: s for s in SETTINGS}
# settings given to the database in whole milliseconds (statement_timeout, lock_timeout, busy_timeout, ...)
_MILLISECOND_SETTINGS = ("idle_s", "statement_timeout_s", "lock_timeout_s")
# the open data side's, the fleet's and the SMS side's settings share the namespace; they are read and checked
# by sync/central/opendata, sync/central/fleet and sync/central/sms
_ELSEWHERE = {s.env_name for s in OPEN_DATA_SETTINGS} | set(fleet_env_names()) | set(sms_env_names())


@dataclass(frozen=True)
class CentralSettings:
    """The effective settings of one central process (see :data:`SETTINGS` for units and meaning)."""

    db: str = DEFAULT_DB
    files: str = ""
    key_file: str = ""
    key: str = ""
    pool_size: int = 4
    pool_overflow: int = 0
    pool_timeout_s: float = 2.0
    workers: int = 1
    reserve_connections: int = 5
    idle_s: float = 60.0
    statement_timeout_s: float = 20.0
    lock_timeout_s: float = 10.0
    retry_after_s: int = 30
    inflight_mb: int = 64
    max_records: int = 50_000
    body_min_rate_kib: float = 2.0
    body_grace_s: float = 10.0
    cookie_secure: bool = False
    proxy_count: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> CentralSettings:
        """Defaults, then the environment, then ``overrides`` (command-line options; None ones are skipped).

        Raises ConfigError naming an unknown ``ANJUNGAN_CENTRAL_SERVER_*`` variable, a renamed one, or a value
        of the wrong type.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {s.key: s.default for s in SETTINGS}
        for name, text in sorted(env.items()):
            if name in RENAMED:
                raise ConfigError(f"environment: {name} is now named {RENAMED[name]}")
            setting = _BY_ENV.get(name)
            if setting is None:
                if name.startswith(PREFIX) and name not in _ELSEWHERE:
                    raise ConfigError(f"environment: unknown setting {name} of the central")
                continue
            values[setting.key] = _coerce(setting, text)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ConfigError for values that cannot work together."""
        if self.pool_size < 1 or self.pool_overflow < 0 or self.workers < 1 or self.reserve_connections < 0:
            raise ConfigError(
                "central: pool_size and workers are at least 1, pool_overflow and reserve at least 0"
            )
        for name in ("pool_timeout_s", "idle_s", "statement_timeout_s", "lock_timeout_s", "body_min_rate_kib",
                     "body_grace_s"):  # fmt: skip
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"central: {name} must be a positive finite number, not {value}")
        for name in _MILLISECOND_SETTINGS:  # PostgreSQL and SQLite take whole ms, and read 0 as "no limit"
            if int(getattr(self, name) * 1000) < 1:
                raise ConfigError(f"central: {name} must be at least 0.001 s, not {getattr(self, name)}")
        if self.inflight_mb < 1 or self.retry_after_s < 1 or self.max_records < 1:
            raise ConfigError("central: inflight_mb, retry_after_s and max_records are at least 1")
        if not 0 <= self.proxy_count <= 10:
            raise ConfigError(
                f"central: proxy_count is the number of proxies in front, 0 to 10, not {self.proxy_count}"
            )

    @property
    def connections_per_process(self) -> int:
        return self.pool_size + self.pool_overflow

    def files_dir(self) -> Path | None:
        return Path(self.files) if self.files else None

    def key_path(self) -> Path | None:
        return Path(self.key_file) if self.key_file else None


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _coerce(setting: Setting, text: str) -> Any:
    try:
        if setting.type is int:
            return int(text.strip())
        if setting.type is float:
            return float(text.strip())
        if setting.type is bool:
            return _boolean(text)
    except ValueError:
        raise ConfigError(
            f"environment: {setting.env_name}: expected {setting.type.__name__}, got {text!r}"
        ) from None
    return text


assert [(s.key, s.default) for s in SETTINGS] == [(f.name, f.default) for f in fields(CentralSettings)], (
    "SETTINGS and CentralSettings must list the same settings with the same defaults"
)


def settings_markdown() -> str:
    """The settings table of docs/central.md, made from :data:`SETTINGS` (scripts/update-docs.py)."""
    out = ["| environment variable | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default != "" else "(empty)"
        out.append(f"| `{s.env_name}` | {default} | {s.help} |")
    return "\n".join(out) + "\n"
