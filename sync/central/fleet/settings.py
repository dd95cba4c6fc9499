"""Settings of the fleet side: data (key, default, help, type) read from the environment, in the central
server's namespace ``ANJUNGAN_CENTRAL_SERVER_<KEY>`` (docs/central.md lists them; a test checks it does).

The regency's UTC offset is the open-data side's ``utc_offset_h`` (days are local days everywhere).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigError
from sync.central import envvalues
from sync.central.envvalues import ENV_PREFIX, env_values
from sync.central.fleet.mapsvg import check_tile_url
from sync.central.opendata import settings as opendata_settings


@dataclass(frozen=True)
class FleetSettings:
    """What the alert rules and the notifications need; every field is one environment variable."""

    alerts_every_s: int = 60  # how often `central serve` evaluates the alerts (0: never, use `alerts run`)
    silent_factor: float = 3.0  # a kiosk is silent after this many sync intervals without contact
    default_sync_s: int = 60  # a kiosk's sync interval when it has not reported one
    node_silent_factor: float = 3.0  # a node is silent after this many of its intervals without a frame
    node_default_interval_s: int = 60  # a node's interval when none is known
    reboots_per_day: int = 5  # this many reboots of a node in 24 hours raise an alert
    store_full_pct: int = 90  # a gateway's store this full (of its budget, or its disk) raises an alert
    water_alert_cm: float = 150.0  # when the kiosk has not reported its own thresholds
    mains_min_v: float = 150.0
    rain_alert_mm: float = 50.0  # rain since the previous clock hour began at or above this raises an alert
    quiet_s: int = 3600  # after a notification for a condition, no other for it within this time
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: int = 0
    mail_from: str = "anjungan@localhost"
    mail_to: str = ""  # comma-separated; empty: no e-mail
    webhook_url: str = ""  # empty: no webhook
    webhook_secret: str = ""  # the HMAC-SHA256 key of the X-Anjungan-Signature header of webhook posts
    tile_url: str = ""  # map tiles, e.g. https://tile.example/{z}/{x}/{y}.png; empty: no tiles
    tile_attribution: str = ""  # what the tiles' licence asks the map to say

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> FleetSettings:
        """Settings from ``env`` (default: the process environment) and ``overrides``; ConfigError names a
        variable whose value has the wrong type, or a tile URL that is not a ``{z}/{x}/{y}`` template."""
        values = env_values(cls, os.environ if env is None else env)
        values.update(overrides)
        if values.get("tile_url"):
            try:
                check_tile_url(values["tile_url"])
            except ValueError as err:
                raise ConfigError(f"{ENV_PREFIX}TILE_URL: {err}") from err
        return cls(**values)


def env_names() -> list[str]:
    """Every environment variable of the fleet side (for the documentation test)."""
    return envvalues.env_names(FleetSettings)


@functools.cache
def utc_offset_ms() -> int:
    """The regency's offset from UTC in ms (``ANJUNGAN_CENTRAL_SERVER_UTC_OFFSET_H``, read once)."""
    config = opendata_settings.from_environment()
    return int(opendata_settings.value(config, "utc_offset_h")) * 3_600_000
