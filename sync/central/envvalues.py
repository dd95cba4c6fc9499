"""Reading a frozen settings dataclass of the central from ``ANJUNGAN_CENTRAL_SERVER_*`` environment variables.

The fleet's (sync/central/fleet/settings.py) and the SMS side's (sync/central/sms/settings.py) settings are
dataclasses whose fields have plain defaults (str, int, float); each field ``name`` is read from
``ANJUNGAN_CENTRAL_SERVER_<NAME>`` and converted to its default's type. Documented in docs/central.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from gateway.errors import ConfigError

ENV_PREFIX = "ANJUNGAN_CENTRAL_SERVER_"


def env_values(cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    """The fields of dataclass ``cls`` set in ``env``, as ``{field name: value of the default's type}``;
    numbers are stripped of surrounding spaces, text is taken as it is. Raises ConfigError naming the
    variable whose value is not of its type."""
    values: dict[str, Any] = {}
    for field in fields(cls):
        raw = env.get(ENV_PREFIX + field.name.upper())
        if raw is None:
            continue
        kind: Any = type(field.default)
        try:
            values[field.name] = kind(raw.strip()) if kind is not str else raw
        except ValueError as err:
            raise ConfigError(
                f"{ENV_PREFIX}{field.name.upper()}: expected {kind.__name__}, got {raw!r}"
            ) from err
    return values


def env_names(cls: type) -> list[str]:
    """Every environment variable of dataclass ``cls`` (for the documentation tests)."""
    return [ENV_PREFIX + field.name.upper() for field in fields(cls)]
