"""Open data at the central: Open311 GeoReport v2 (read side), sensor aggregates (downloads, CKAN DataStore
publishing, Frictionless Data Packages, Satu Data metadata) and Prometheus metrics. docs/opendata.md."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.engine import Engine

from sync.central.opendata import settings


def init_app(app: Flask, engine: Engine) -> None:
    """Register the open-data endpoints on the central's app; settings from the environment unless the app's
    config already has them (``OPENDATA_<KEY>``)."""
    from sync.central.opendata import downloads, metrics, open311

    for key, value in settings.from_environment().items():
        app.config.setdefault(key, value)
    app.register_blueprint(open311.bp)
    app.register_blueprint(downloads.bp)
    metrics.init_app(app, engine)
