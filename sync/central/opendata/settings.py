"""Settings of the central's open-data side: data (key, default, help, type), read from the environment.

Each setting is the environment variable ``ANJUNGAN_CENTRAL_SERVER_<KEY>`` (the central server's own namespace,
apart from a gateway's ``ANJUNGAN_CENTRAL_<KEY>``) and the app config key ``OPENDATA_<KEY>``; an app config
value given to ``create_app`` wins over the environment. docs/opendata.md lists them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigError

ENV_PREFIX = "ANJUNGAN_CENTRAL_SERVER_"
CONFIG_PREFIX = "OPENDATA_"


@dataclass(frozen=True)
class Setting:
    """One setting: ``key`` (lower case), its default, what it does, and its type (str, int or float)."""

    key: str
    default: Any
    help: str
    type: type = str

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.key.upper()

    @property
    def config_key(self) -> str:
        return CONFIG_PREFIX + self.key.upper()


SETTINGS: list[Setting] = [
    Setting(
        "metrics_token",
        "",
        "When set, `/metrics` answers only a request with `Authorization: Bearer <token>` (else 401).",
    ),
    Setting(
        "metrics_allow",
        "",
        "When set, `/metrics` answers only these client addresses or networks (comma-separated, e.g. "
        "`127.0.0.1,10.20.0.0/16`; else 403). Both settings may be combined.",
    ),
    Setting(
        "utc_offset_h",
        7,
        "The regency's offset from UTC in hours (WIB 7, WITA 8, WIT 9): Open311 dates, and the days and "
        "months of aggregates, are in this local time.",
        int,
    ),
    Setting("open311_agency", "", "Open311 `agency_responsible` of every complaint (empty: none)."),
    Setting("open311_max_requests", 1000, "The most requests one Open311 `requests` answer lists.", int),
    Setting(
        "walidata",
        "Dinas Komunikasi dan Informatika",
        "The walidata (data custodian, Perpres 39/2019 Ps. 1) named in every published dataset's metadata.",
    ),
    Setting(
        "producer",
        "Dinas Komunikasi dan Informatika",
        "The producer (produsen data) of a node's data when none is set for the node or its kiosk.",
    ),
    Setting(
        "license",
        "CC-BY-4.0",
        "The licence (an SPDX id) of published sensor data, in every data package and CKAN dataset.",
    ),
    Setting("ckan_url", "", "`publish-ckan --url`: the CKAN portal's base URL."),
    Setting(
        "ckan_api_key", "", "`publish-ckan --api-key`: the CKAN API key (better here than on a command line)."
    ),
    Setting("ckan_resource_id", "", "`publish-ckan --resource-id`: the DataStore resource to publish to."),
    Setting("ckan_every_s", 0, "`publish-ckan --every`: seconds between runs (0: one run).", int),
]
SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}
_BY_KEY = SETTINGS_BY_KEY


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The app config (``OPENDATA_<KEY>`` -> value) from ``env`` (default: the process environment).

    Raises :class:`ConfigError` naming the variable when a value has the wrong type.
    """
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env_name)
        if raw is None:
            out[setting.config_key] = setting.default
            continue
        try:
            out[setting.config_key] = setting.type(raw)
        except ValueError as err:
            raise ConfigError(f"{setting.env_name}: expected {setting.type.__name__}, got {raw!r}") from err
    return out


def value(config: Mapping[str, Any], key: str) -> Any:
    """The value of setting ``key`` in an app's config (its default when absent)."""
    setting = _BY_KEY[key]
    return config.get(setting.config_key, setting.default)
