"""The kiosk's blueprints: ``public`` (reading), ``submit`` (forms, receipts, status), ``operator``."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from kiosk.alerts import Alert, AlertCache, Thresholds


def kiosk_tz() -> ZoneInfo:
    """The kiosk's time zone (``BABEL_DEFAULT_TIMEZONE``, Asia/Jakarta unless configured): every time a citizen
    sees — the header clock, receipts, data ages, the charts' axes — is in it, whatever the machine's zone."""
    return ZoneInfo(str(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def store() -> Any:
    return current_app.extensions["anjungan_store"]


def thresholds() -> Thresholds:
    cfg = current_app.config
    return Thresholds(
        float(cfg["KIOSK_WATER_ALERT_CM"]), float(cfg["KIOSK_MAINS_MIN_V"]), int(cfg["KIOSK_STALE_MS"])
    )


def current_alerts() -> list[Alert]:
    cache = current_app.extensions.setdefault("anjungan_alerts", AlertCache())
    return cache.get(store(), thresholds(), float(current_app.config["KIOSK_ALERT_CACHE_SECONDS"]))
