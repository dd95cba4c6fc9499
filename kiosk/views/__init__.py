"""The kiosk's blueprints: ``public`` (reading), ``submit`` (forms, receipts, status), ``operator``."""

from __future__ import annotations

from typing import Any

from flask import current_app

from kiosk.alerts import Alert, AlertCache, Thresholds


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
