"""Configuration: one TOML file, overridable by ``ANJUNGAN_<SECTION>_<KEY>`` environment variables.

Settings are data (:data:`SETTINGS`): each has a section, a key, a default, a type and a help text. The
commented file that ``anjungan init`` writes and docs/configuration.md are both checked against this list.
Unknown sections and keys are errors that name them.

:func:`load` returns a frozen :class:`Config` holding one frozen dataclass per section (:class:`GatewaySection`,
:class:`KioskSection`, ...; ``[[serial]]`` a tuple of :class:`SerialSection`). The classes give each key its
type; :func:`section_mismatches` holds them to the table (key order, type, default), at import and in a test.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import ConfigError

DEFAULT_PATH = Path("anjungan.toml")
FIELD_PATH = Path("/etc/anjungan/gateway.toml")
# WatchdogSec= of hardware/systemd/anjungan-sync.service (tests/gateway/test_config.py holds them equal): the
# [sync] waits and each request are bounded against it (see _validate_sync)
SYNC_WATCHDOG_S = 1800


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    default: Any
    help: str
    type: type = str

    @property
    def env_name(self) -> str:
        return f"ANJUNGAN_{self.section.upper()}_{self.key.upper()}"


# Sections listed in LIST_SECTIONS are TOML arrays of tables ([[serial]]): their settings describe one entry.
LIST_SECTIONS = {"serial"}

SETTINGS: list[Setting] = [
    Setting(
        "gateway",
        "id",
        "dmk-wonosalam",
        "Lower-case id of this kiosk; also the prefix of registration numbers.",
    ),
    Setting("gateway", "name", "Kecamatan Wonosalam", "The office's name, shown on the kiosk."),
    Setting("gateway", "data_dir", "./data", "Where the store (anjungan.db) and documents live."),
    Setting(
        "gateway",
        "store_budget_mb",
        1024,
        "Size budget of the store in MiB. When reached, synced readings go first, then unsynced readings are "
        "thinned oldest-first (the loss is recorded as an event). Citizens' submissions are never evicted.",
        int,
    ),
    Setting("central", "url", "", "Base URL of the central (Dinas Kominfo). Empty = no sync."),
    Setting(
        "central", "gateway_id", "", "This gateway's id at the central (from `anjungan central add-gateway`)."
    ),
    Setting(
        "central", "secret", "", "This gateway's secret at the central (from `anjungan central add-gateway`)."
    ),
    Setting(
        "serial", "port", "/dev/ttyACM0", "Serial device of a node (one [[serial]] table per port).", str
    ),
    Setting("serial", "baud", 115200, "Baud rate of that port.", int),
    Setting("mqtt", "host", "127.0.0.1", "MQTT broker for WiFi nodes. Empty = no MQTT ingest."),
    Setting("mqtt", "port", 1883, "MQTT broker port.", int),
    Setting("kiosk", "host", "127.0.0.1", "Address the kiosk web server listens on."),
    Setting("kiosk", "port", 8080, "Port the kiosk web server listens on.", int),
    Setting("kiosk", "language", "id", "Language of the kiosk's home screen: id (Bahasa Indonesia) or en."),
    Setting(
        "kiosk",
        "timezone",
        "Asia/Jakarta",
        "The office's time zone (IANA name): Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT). "
        "Registration numbers, due dates and every time shown follow it, whatever the machine's own zone.",
    ),
    Setting(
        "kiosk",
        "idle_seconds",
        90,
        "Seconds without a touch before the kiosk warns that it will start over (clearing the form).",
        int,
    ),
    Setting(
        "kiosk",
        "idle_warning_seconds",
        30,
        "Seconds the idle warning stays up (at least 20) before the form and session are cleared.",
        int,
    ),
    Setting(
        "kiosk",
        "operator_password_hash",
        "",
        "Werkzeug password hash for the operator pages (make one with `anjungan kiosk --hash-password`). "
        "Empty = operator pages disabled.",
    ),
    Setting(
        "kiosk",
        "printer",
        "",
        'Receipt printer (ESC/POS): "" none, "file:/dev/usb/lp0" (a USB printer: `ls /dev/usb/`), '
        '"serial:/dev/ttyUSB0" or "network:HOST[:PORT]".',
    ),
    Setting(
        "kiosk",
        "public_url",
        "",
        "Public base URL of the status page, encoded in receipts' QR codes as <public_url>/status/<number>. "
        "Empty = the QR code holds the registration number only.",
    ),
    Setting(
        "kiosk",
        "water_alert_cm",
        150.0,
        "Water level (water_cm) at or above which a flood alert (serta-merta) is shown on every page.",
        float,
    ),
    Setting(
        "kiosk",
        "mains_min_v",
        150.0,
        "Mains voltage (mains_v) below which mains power counts as lost (alert on every page).",
        float,
    ),
    Setting(
        "kiosk",
        "stale_minutes",
        15,
        "A node's readings older than this are shown as stale and do not raise or clear alerts.",
        int,
    ),
    Setting(
        "kiosk",
        "node_labels",
        {},
        "Where each sensor node is, shown on the conditions page: a table of node id = place, e.g. "
        '{ "dmk-wl-01" = "Sungai Tuntang, Jembatan Wonosalam" } (JSON in the environment). The central may '
        "send a newer one (configuration item kiosk.node_labels).",
        dict,
    ),
    Setting(
        "kiosk",
        "secret_key",
        "",
        "Key of the kiosk's form tokens (CSRF) and status codes. Empty = a random key kept in <data_dir>/kiosk.key.",
    ),
    Setting(
        "kiosk",
        "metrics_token",
        "",
        "When set, the kiosk's /metrics (Prometheus) answers only `Authorization: Bearer <token>` (else 401). "
        "Empty = readable without login.",
    ),
    Setting(
        "kiosk",
        "metrics_allow",
        "",
        "When set, the kiosk's /metrics answers only these client addresses or networks, comma-separated "
        "(e.g. `127.0.0.1,10.20.0.0/16`; else 403).",
    ),
    Setting(
        "mqtt",
        "client_id",
        "",
        "MQTT client id of the ingest; its persistent session keeps messages while the ingest is down. "
        "Empty = anjungan-<gateway id>.",
    ),
    Setting(
        "mqtt",
        "username",
        "",
        "User name of the ingest at the broker (hardware/install-pi.sh makes one). Empty = anonymous.",
    ),
    Setting("mqtt", "password", "", "The ingest's password at the broker."),
    Setting(
        "gateway",
        "commit_interval_s",
        120.0,
        "Seconds the ingest may gather frames before committing them together (at most 16 MQTT frames, which "
        "are acknowledged after their commit; 512 in all). Every commit writes whole pages to the SD card "
        "whatever it holds, so 120 writes a fraction of what 0 does (docs/deploy.md), and readings reach the "
        "kiosk's pages and the sync up to that much later. Serial frames still gathering are kept in the journal "
        "(journal_dir) and saved at the next start if the ingest dies; MQTT ones come again. 0 = each frame "
        "at once.",
        float,
    ),
    Setting(
        "gateway",
        "journal_dir",
        "",
        "Folder (best on tmpfs: it is written at every serial frame) of the ingest's journal of serial frames "
        "not yet committed, saved at the next start after a crash (the ingest's systemd unit sets "
        "/run/anjungan, its RuntimeDirectory). Empty = $XDG_RUNTIME_DIR/anjungan, else /dev/shm/anjungan-<uid>, else "
        "<data_dir>/journal.",
    ),
    Setting(
        "gateway",
        "offline_after_intervals",
        3,
        "A node that misses this many of its intervals is marked offline (an `offline` event).",
        int,
    ),
    Setting(
        "sync",
        "interval_s",
        60.0,
        "Seconds between sync rounds of `anjungan sync run` (it starts earlier when there is backlog); at "
        "most 900, half the sync service's watchdog (WatchdogSec=1800).",
        float,
    ),
    Setting(
        "sync",
        "batch_max",
        20000,
        "Most readings per upload batch (batches grow up to this; submissions and events up to 1000).",
        int,
    ),
    Setting(
        "sync",
        "backoff_cap_s",
        900.0,
        "Longest wait in seconds between retries after a failure (full-jitter exponential backoff); at most 900.",
        float,
    ),
    Setting(
        "sync",
        "backoff_base_s",
        1.0,
        "Longest wait in seconds before the first retry after a failure; it doubles with each failure in a row "
        "(never beyond backoff_cap_s; at most 900).",
        float,
    ),
    Setting(
        "sync",
        "timeout_s",
        60.0,
        "Seconds to wait for the central's answer to one request; at most 180.",
        float,
    ),
]

_BY_NAME = {(s.section, s.key): s for s in SETTINGS}
SECTIONS = list(dict.fromkeys(s.section for s in SETTINGS))


def settings_of(section: str) -> list[Setting]:
    return [s for s in SETTINGS if s.section == section]


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    """Turn a TOML or environment value into the setting's type, or raise ConfigError naming ``origin``."""
    kind = setting.type
    if isinstance(value, str) and kind is dict:
        try:
            value = json.loads(value or "{}")
        except ValueError:
            raise ConfigError(f"{origin}: expected a JSON object, got {value!r}") from None
    if kind is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{origin}: expected a table of texts, got {value!r}")
        return dict(value)
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(text)
                return text.lower() in {"1", "true", "yes", "on"}
            return kind(text)
        except ValueError:
            raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{origin}: expected {kind.__name__}, got {value!r}")
    return value


@dataclass(frozen=True)
class GatewaySection:
    """``[gateway]``: this kiosk's identity, where its store lives and how the ingest commits (see
    :data:`SETTINGS` for each key's meaning and unit)."""

    id: str = "dmk-wonosalam"
    name: str = "Kecamatan Wonosalam"
    data_dir: str = "./data"  # as written; Config.data_dir resolves it against the file's folder
    store_budget_mb: int = 1024
    commit_interval_s: float = 120.0
    journal_dir: str = ""  # as written; Config.journal_dir resolves it (empty: a tmpfs folder of this user)
    offline_after_intervals: int = 3


@dataclass(frozen=True)
class CentralSection:
    """``[central]``: the central this gateway syncs to (empty url: no sync) and its credentials there."""

    url: str = ""
    gateway_id: str = ""
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class SerialSection:
    """One ``[[serial]]`` entry: a serial device with a node on it and its baud rate."""

    port: str = "/dev/ttyACM0"
    baud: int = 115200


@dataclass(frozen=True)
class MqttSection:
    """``[mqtt]``: the broker of the WiFi nodes (empty host: no MQTT ingest) and the ingest's login there."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str = ""
    password: str = field(default="", repr=False)


def _no_labels() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class KioskSection:
    """``[kiosk]``: the kiosk web server, its pages' thresholds and labels, the printer and the operator's and
    /metrics' access. ``node_labels`` is read-only (node id -> place)."""

    host: str = "127.0.0.1"
    port: int = 8080
    language: str = "id"
    timezone: str = "Asia/Jakarta"
    idle_seconds: int = 90
    idle_warning_seconds: int = 30
    operator_password_hash: str = field(default="", repr=False)
    printer: str = ""
    public_url: str = ""
    water_alert_cm: float = 150.0
    mains_min_v: float = 150.0
    stale_minutes: int = 15
    node_labels: Mapping[str, str] = field(default_factory=_no_labels)
    secret_key: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)
    metrics_allow: str = ""


@dataclass(frozen=True)
class SyncSection:
    """``[sync]``: the sync's rounds, batches, back-off and request timeout, in seconds and records."""

    interval_s: float = 60.0
    batch_max: int = 20000
    backoff_cap_s: float = 900.0
    backoff_base_s: float = 1.0
    timeout_s: float = 60.0


# The typed class of each section, in the order of SECTIONS (checked against SETTINGS by check_sections).
SECTION_TYPES: dict[str, type] = {
    "gateway": GatewaySection,
    "central": CentralSection,
    "serial": SerialSection,
    "mqtt": MqttSection,
    "kiosk": KioskSection,
    "sync": SyncSection,
}


def _runtime_type(hint: Any) -> type:
    """The Setting.type a field's annotation stands for: its class, ``dict`` for a mapping."""
    origin = typing.get_origin(hint) or hint
    return dict if origin is Mapping else typing.cast(type, origin)


def _field_default(f: Field[Any]) -> Any:
    if f.default_factory is not MISSING:
        return f.default_factory()
    return f.default


def section_mismatches() -> list[str]:
    """How the section classes differ from :data:`SETTINGS` (key order, type, default): empty when they agree.

    The table says what each key means (help, environment name, docs); the classes give the keys their types.
    """
    problems = []
    if list(SECTION_TYPES) != SECTIONS:
        problems.append(f"sections {list(SECTION_TYPES)} != {SECTIONS}")
    for name, cls in SECTION_TYPES.items():
        hints = typing.get_type_hints(cls)
        declared = [(f.name, _runtime_type(hints[f.name]), _field_default(f)) for f in fields(cls)]
        table = [(st.key, st.type, st.default) for st in settings_of(name)]
        if declared != table:
            problems.append(f"[{name}]: {_difference(declared, table)}")
    return problems


def _difference(declared: list[tuple[str, type, Any]], table: list[tuple[str, type, Any]]) -> str:
    """The first difference between a section class's fields and the table's settings, in words."""
    keys, wanted = [d[0] for d in declared], [t[0] for t in table]
    if missing := [k for k in wanted if k not in keys]:
        return f"the table has {', '.join(missing)}, which the section class lacks (add the field, in table order)"
    if extra := [k for k in keys if k not in wanted]:
        return f"the section class has {', '.join(extra)}, which the table lacks (add a Setting)"
    if keys != wanted:
        return f"the section class's fields are in the order {keys}, the table's {wanted}"
    for mine, theirs in zip(declared, table, strict=True):
        if mine != theirs:
            return f"{mine[0]}: the class says {mine[1].__name__} = {mine[2]!r}, the table {theirs[1].__name__} = {theirs[2]!r}"
    return "they differ"


_MISMATCHES = section_mismatches()
if _MISMATCHES:  # a setting added to the table without its field, or the other way round
    raise RuntimeError("gateway/config.py: " + "; ".join(_MISMATCHES))


@dataclass(frozen=True)
class Config:
    """The effective configuration: defaults, then the file, then ANJUNGAN_* variables, one typed section per
    table of the file (``cfg.gateway.id``, ``cfg.kiosk.port``); ``serial`` holds one entry per ``[[serial]]``.
    ``path`` is the file read (absolute), or None when none was."""

    gateway: GatewaySection = field(default_factory=GatewaySection)
    central: CentralSection = field(default_factory=CentralSection)
    serial: tuple[SerialSection, ...] = ()
    mqtt: MqttSection = field(default_factory=MqttSection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    sync: SyncSection = field(default_factory=SyncSection)
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """Every section as plain data: ``{section: {key: value}}``, a list of those for ``serial``."""
        out: dict[str, Any] = {}
        for name in SECTIONS:
            value = getattr(self, name)
            if name in LIST_SECTIONS:
                out[name] = [_plain(entry) for entry in value]
            else:
                out[name] = _plain(value)
        return out

    @property
    def data_dir(self) -> Path:
        """``[gateway] data_dir``; a relative one is relative to the configuration file's folder."""
        data_dir = Path(self.gateway.data_dir)
        if not data_dir.is_absolute() and self.path is not None:
            data_dir = self.path.parent / data_dir
        return data_dir

    @property
    def journal_dir(self) -> Path:
        """``[gateway] journal_dir`` (a relative one is relative to the configuration file's folder); when
        empty, ``$XDG_RUNTIME_DIR/anjungan`` if that variable names a folder, else ``/dev/shm/anjungan-<uid>``
        if /dev/shm is a folder, else ``<data_dir>/journal``."""
        if self.gateway.journal_dir:
            folder = Path(self.gateway.journal_dir)
            if not folder.is_absolute() and self.path is not None:
                folder = self.path.parent / folder
            return folder
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        if runtime and Path(runtime).is_dir():
            return Path(runtime) / "anjungan"
        if Path("/dev/shm").is_dir():
            return Path("/dev/shm") / f"anjungan-{os.getuid()}"
        return self.data_dir / "journal"

    @property
    def store_path(self) -> Path:
        """The store's SQLite file: ``<data_dir>/anjungan.db``."""
        return self.data_dir / "anjungan.db"


def _plain(section: Any) -> dict[str, Any]:
    return {f.name: _plain_value(getattr(section, f.name)) for f in fields(section)}


def _plain_value(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err


def _section_values(name: str, raw: Any, origin: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: [{name}] must be a table")
    values = {s.key: s.default for s in settings_of(name)}
    for key, value in raw.items():
        setting = _BY_NAME.get((name, key))
        if setting is None:
            raise ConfigError(f"{origin}: unknown key {name}.{key}")
        values[key] = _coerce(setting, value, f"{origin}: {name}.{key}")
    return values


def _apply_env(sections: dict[str, Any], env: Mapping[str, str]) -> None:
    known = {s.env_name: s for s in SETTINGS}
    # a list's port variable (re)builds its entries: apply it before the variables that change every entry
    for var, text in sorted(env.items(), key=lambda item: not item[0].endswith("_PORT")):
        if (
            not var.startswith("ANJUNGAN_")
            or var in _ENV_NOT_SETTINGS
            or var.startswith(_CENTRAL_SERVER_PREFIX)
        ):
            continue
        setting = known.get(var)
        if setting is None:
            if var.count("_") >= 2 and var.split("_")[1].lower() in SECTIONS:
                raise ConfigError(f"environment: unknown setting {var}")
            continue
        if setting.section in LIST_SECTIONS:
            _apply_list_env(sections, setting, text)
        else:
            sections[setting.section][setting.key] = _coerce(setting, text, f"environment: {var}")


def _apply_list_env(sections: dict[str, Any], setting: Setting, text: str) -> None:
    """``ANJUNGAN_SERIAL_PORT=/dev/ttyACM0,/dev/ttyACM1`` sets the list; ``..._BAUD`` applies to every entry."""
    entries = sections[setting.section]
    if setting.key == "port":
        ports = [p.strip() for p in text.split(",") if p.strip()]
        defaults = {s.key: s.default for s in settings_of(setting.section)}
        entries[:] = [{**defaults, "port": port} for port in ports]
    else:
        value = _coerce(setting, text, f"environment: {setting.env_name}")
        for entry in entries:
            entry[setting.key] = value


# ANJUNGAN_* variables that are not settings (used by other parts).
_ENV_NOT_SETTINGS = {"ANJUNGAN_CONFIG", "ANJUNGAN_CENTRAL_DB"}
# The central server's own settings (sync/central/settings.py checks them), apart from this file's [central]
# section, which says which central this gateway syncs to: both can be set in one shell.
_CENTRAL_SERVER_PREFIX = "ANJUNGAN_CENTRAL_SERVER_"


def load(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration.

    ``path`` None means ``./anjungan.toml`` if it exists (defaults otherwise); an explicit path must exist.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "ANJUNGAN_CONFIG" in env
    file_path = Path(path) if path is not None else Path(env.get("ANJUNGAN_CONFIG", DEFAULT_PATH))
    raw: dict[str, Any] = {}
    if file_path.exists():
        raw = _read_file(file_path)
    elif explicit:
        raise ConfigError(f"{file_path}: no such configuration file (create one with `anjungan init`)")
    origin = str(file_path)
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section [{name}]")
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        if name in LIST_SECTIONS:
            items = raw.get(name, [])
            if not isinstance(items, list):
                raise ConfigError(f"{origin}: {name} must be an array of tables ([[{name}]])")
            sections[name] = [_section_values(name, item, origin) for item in items]
        else:
            sections[name] = _section_values(name, raw.get(name, {}), origin)
    _apply_env(sections, env)
    _validate(sections)
    return Config(
        gateway=GatewaySection(**sections["gateway"]),
        central=CentralSection(**sections["central"]),
        serial=tuple(SerialSection(**entry) for entry in sections["serial"]),
        mqtt=MqttSection(**sections["mqtt"]),
        kiosk=KioskSection(
            **{**sections["kiosk"], "node_labels": MappingProxyType(sections["kiosk"]["node_labels"])}
        ),
        sync=SyncSection(**sections["sync"]),
        path=file_path.resolve() if file_path.exists() else None,
    )


def _validate(sections: dict[str, Any]) -> None:
    gid = sections["gateway"]["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", gid):
        raise ConfigError(f"gateway.id must be lower-case letters, digits and '-' (1-32), got {gid!r}")
    if sections["gateway"]["store_budget_mb"] < 16:
        raise ConfigError("gateway.store_budget_mb must be at least 16")
    _validate_sync(sections["sync"])
    zone = sections["kiosk"]["timezone"]
    try:
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(
            f"kiosk.timezone must be an IANA time zone such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura, "
            f"got {zone!r}"
        ) from None


def _validate_sync(sync: Mapping[str, Any]) -> None:
    """The sync's waits and requests, bounded against its watchdog (WatchdogSec=SYNC_WATCHDOG_S).

    The loop feeds the watchdog while it waits (gateway/sdnotify.py), so the bounds are a margin, not the
    mechanism: an idle interval or a back-off of at most half the period, a request of at most a tenth (a round
    makes several requests and pings only between rounds). Raises ConfigError naming the setting, its bound
    and why.
    """
    why = f"the sync service's watchdog is {SYNC_WATCHDOG_S} s (WatchdogSec= in anjungan-sync.service)"
    bounds = {"interval_s": SYNC_WATCHDOG_S / 2, "backoff_cap_s": SYNC_WATCHDOG_S / 2,
              "backoff_base_s": SYNC_WATCHDOG_S / 2, "timeout_s": SYNC_WATCHDOG_S / 10}  # fmt: skip
    for key, most in bounds.items():
        value = float(sync[key])
        if not 0 < value <= most:
            raise ConfigError(
                f"sync.{key} must be more than 0 and at most {most:.0f} s ({why}), got {value:g}"
            )


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def commented_toml(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The commented configuration file that ``anjungan init`` writes (every setting, with its help)."""
    overrides = overrides or {}
    lines = [
        "# anjungan configuration. Every key can be overridden by ANJUNGAN_<SECTION>_<KEY>.",
        "# See docs/configuration.md for what each setting does.",
    ]
    for name in SECTIONS:
        lines.append("")
        if name in LIST_SECTIONS:
            lines.append(f"# [[{name}]]  (zero or more; uncomment to add one)")
            for s in settings_of(name):
                lines.append(f"# {s.key} = {_toml_value(s.default)}  # {s.help}")
            continue
        lines.append(f"[{name}]")
        for s in settings_of(name):
            value = overrides.get(name, {}).get(s.key, s.default)
            lines.append(f"# {s.help}")
            lines.append(f"{s.key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


_SECTION_NOTES = {
    "serial": "Zero or more tables, one per serial port with a node on it. From the environment,\n"
    "`ANJUNGAN_SERIAL_PORT=/dev/ttyACM0,/dev/ttyACM1` replaces the whole list (comma-separated ports;\n"
    "an empty value means no serial ports) and `ANJUNGAN_SERIAL_BAUD` sets the baud of every entry.\n",
}


def settings_markdown() -> str:
    """The settings tables of docs/configuration.md, made from :data:`SETTINGS` (scripts/update-docs.py)."""
    out = []
    for name in SECTIONS:
        title = f"[[{name}]]" if name in LIST_SECTIONS else f"[{name}]"
        out += [f"## `{title}`", ""]
        if name in _SECTION_NOTES:
            out += [_SECTION_NOTES[name]]
        out += ["| key | default | environment variable | what it does |", "|---|---|---|---|"]
        for s in settings_of(name):
            out.append(f"| `{s.key}` | `{_toml_value(s.default)}` | `{s.env_name}` | {s.help} |")
        out.append("")
    return "\n".join(out)
