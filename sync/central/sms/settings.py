"""Settings of the SMS side: data (key, default, type) read from the environment, in the central server's
namespace ``ANJUNGAN_CENTRAL_SERVER_SMS_<KEY>`` (docs/central.md lists them; docs/sms.md explains them)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.errors import ConfigError
from sync.central import envvalues
from sync.central.envvalues import ENV_PREFIX, env_values

SENDERS = ("", "modem", "http")
DEFAULT_BODY = '{"to": "{to}", "text": "{text}"}'

HELP: dict[str, str] = {
    "sms_sender": "How SMS leave: `modem` (a GSM modem on a serial port, AT commands), `http` (an SMS gateway's "
    "HTTP API), or empty: none (the queue fills, nothing is sent).",
    "sms_every_s": "Seconds between the SMS worker's rounds (in `central serve` and `central sms-worker`); 0: "
    "`central serve` sends none (run `central sms-worker`).",
    "sms_daily_cap": "Most SMS one phone number gets in one office day (WIB); the rest wait for the next day.",
    "sms_max_attempts": "Attempts of one SMS before it is listed as failed in the back office.",
    "sms_backoff_base_s": "Seconds before the second attempt; doubled after each failure.",
    "sms_backoff_cap_s": "Longest wait between two attempts, in seconds.",
    "sms_modem_port": "The modem's serial device, e.g. `/dev/ttyUSB0` (better a stable `/dev/serial/by-id/...`).",
    "sms_modem_baud": "The modem's serial speed.",
    "sms_modem_timeout_s": "Seconds to wait for the modem's answer to one command (sending takes a few).",
    "sms_http_url": "The SMS gateway's URL that takes one message per POST (JSON).",
    "sms_http_token": "Sent as `Authorization: Bearer <token>`; may also appear in the body as `{token}`.",
    "sms_http_body": "The JSON body posted per message; the strings `{to}` (+62...), `{text}`, `{key}` (one per "
    "message: the gateway may de-duplicate on it) and `{token}` are replaced in its values.",
    "sms_http_ok_field": "A field of the gateway's JSON answer that tells a message was taken (dots for nested "
    "fields, e.g. `status` or `data.ok`); empty: any 2xx answer means sent. Any other answer is a failure.",
    "sms_http_ok_value": "The value of `SMS_HTTP_OK_FIELD` that means sent, as text (e.g. `success`, `true`, `1`).",
    "sms_hash_key": "Key of the hash that stands for a phone number in the queue (the daily cap); empty: derived "
    "from the central's master key.",
}


@dataclass(frozen=True)
class SmsSettings:
    """What the SMS worker needs; every field is one environment variable (:data:`HELP` says what each does)."""

    sms_sender: str = ""
    sms_every_s: int = 30
    sms_daily_cap: int = 5
    sms_max_attempts: int = 6
    sms_backoff_base_s: int = 60
    sms_backoff_cap_s: int = 3600
    sms_modem_port: str = ""
    sms_modem_baud: int = 115200
    sms_modem_timeout_s: float = 30.0
    sms_http_url: str = ""
    sms_http_token: str = ""
    sms_http_body: str = DEFAULT_BODY
    sms_http_ok_field: str = ""
    sms_http_ok_value: str = ""
    sms_hash_key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SmsSettings:
        """Settings from ``env`` (default: the process environment), then ``overrides``.

        Raises ConfigError naming a variable with a value of the wrong type, an unknown sender, a sender whose
        port or URL is missing, or a body that is not a JSON object.
        """
        values = env_values(cls, os.environ if env is None else env)
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """ConfigError for values that cannot work."""
        name = ENV_PREFIX + "SMS_"
        if self.sms_sender not in SENDERS:
            raise ConfigError(f"{name}SENDER: one of modem, http or empty, not {self.sms_sender!r}")
        if self.sms_sender == "modem" and not self.sms_modem_port:
            raise ConfigError(f"{name}SENDER=modem needs {name}MODEM_PORT")
        if self.sms_sender == "http" and not self.sms_http_url:
            raise ConfigError(f"{name}SENDER=http needs {name}HTTP_URL")
        if self.sms_daily_cap < 1 or self.sms_max_attempts < 1 or self.sms_every_s < 0:
            raise ConfigError(
                f"{name}DAILY_CAP and {name}MAX_ATTEMPTS are at least 1, {name}EVERY_S at least 0"
            )
        if self.sms_backoff_base_s < 1 or self.sms_backoff_cap_s < self.sms_backoff_base_s:
            raise ConfigError(f"{name}BACKOFF_BASE_S is at least 1 and at most {name}BACKOFF_CAP_S")
        try:
            body = json.loads(self.sms_http_body)
        except ValueError as err:
            raise ConfigError(f"{name}HTTP_BODY is not JSON: {err}") from None
        if not isinstance(body, dict):
            raise ConfigError(f"{name}HTTP_BODY must be a JSON object")


def env_names() -> list[str]:
    """Every environment variable of the SMS side (the central's settings accept them; the docs list them)."""
    return envvalues.env_names(SmsSettings)


def settings_markdown() -> str:
    """The table of the SMS settings (docs/central.md and docs/sms.md, made by scripts/update-docs.py)."""
    out = ["| environment variable | default | what it does |", "|---|---|---|"]
    for field in fields(SmsSettings):
        default = f"`{field.default}`" if field.default != "" else "(empty)"
        out.append(f"| `{ENV_PREFIX}{field.name.upper()}` | {default} | {HELP[field.name]} |")
    return "\n".join(out) + "\n"


assert set(HELP) == {f.name for f in fields(SmsSettings)}, "every SMS setting has its help"
