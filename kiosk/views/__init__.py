"""The kiosk's blueprints: ``public`` (reading), ``submit`` (forms, receipts, status), ``operator``."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from gateway.store import Store
from kiosk.alerts import Alert, AlertCache, Thresholds


def kiosk_tz() -> ZoneInfo:
    """The kiosk's time zone (``BABEL_DEFAULT_TIMEZONE``, Asia/Jakarta unless configured): every time a citizen
    sees — the header clock, receipts, data ages, the charts' axes — is in it, whatever the machine's zone."""
    return ZoneInfo(str(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def kiosk_today() -> date:
    """Today's date at the office (``[kiosk] timezone``) by the store's clock: the day of a registration number
    and the start of a due date (UU 14/2008 Ps. 22 counts working days from the day a request is received)."""
    return datetime.fromtimestamp(store().clock.now_ms() / 1000, kiosk_tz()).date()


def store() -> Store:
    """The app's :class:`~gateway.store.Store` (opened by :func:`kiosk.app.create_app`)."""
    found: Store = current_app.extensions["anjungan_store"]
    return found


def thresholds() -> Thresholds:
    cfg = current_app.config
    return Thresholds(
        float(cfg["KIOSK_WATER_ALERT_CM"]), float(cfg["KIOSK_MAINS_MIN_V"]), int(cfg["KIOSK_STALE_MS"])
    )


def current_alerts() -> list[Alert]:
    cache = current_app.extensions.setdefault("anjungan_alerts", AlertCache())
    return cache.get(store(), thresholds(), float(current_app.config["KIOSK_ALERT_CACHE_SECONDS"]))
