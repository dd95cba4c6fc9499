"""Kiosk fixtures: the app over a tmp store, a test client, a live server on a free port (tests/fixtures/wsgi.py), feeding readings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from escpos.printer import Dummy
from flask import Flask
from flask.testing import FlaskClient

from gateway.config import Config
from gateway.frame import Frame
from gateway.sample_content import seed
from gateway.store import Store, db
from kiosk.app import close_app, create_app
from tests.fixtures.wsgi import LiveServer

TEST_CONFIG = {
    "TESTING": True,
    "KIOSK_PAGE_CACHE_SECONDS": 0.0,
    "KIOSK_ALERT_CACHE_SECONDS": 0.0,
    "KIOSK_CHART_CACHE_SECONDS": 0.0,
}


@pytest.fixture
def printer() -> Dummy:
    return Dummy()


@pytest.fixture
def make_app(cfg: Config, printer: Dummy) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(cfg, {**TEST_CONFIG, "KIOSK_PRINTER": printer, **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Flask:
    seed(kiosk_store, cfg)
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def kiosk_store(cfg: Config) -> Iterator[Store]:
    with Store.from_config(cfg) as store:
        yield store


@pytest.fixture
def feed(kiosk_store: Store) -> Iterator[Callable[..., None]]:
    """feed(node, {name: value}, at_ms=None, history_hours=0): write readings through the real writer."""
    writer = kiosk_store.writer()
    counters: dict[str, int] = {}

    def write(node: str, values: dict[str, float], at: int | None = None, history_hours: int = 0) -> None:
        now = at or db.now_ms()
        frames = []
        for step in range(history_hours * 12, -1, -1):  # one frame per 5 minutes, oldest first
            seq = counters[node] = counters.get(node, -1) + 1
            wobble = {k: v * (1 + 0.03 * ((step % 24) - 12) / 12) for k, v in values.items()}
            frames.append((Frame("r", node, 1, seq, wobble if step else dict(values)), now - step * 300_000))
        for frame, frame_at in frames:
            writer.write([frame], at=frame_at)

    yield write


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app, name="kiosk-test-server") as server:
        yield server


@pytest.fixture
def seeded_server(
    make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config, feed: Callable[..., None]
) -> Iterator[LiveServer]:
    """A live kiosk over the sample content, with a flood alert and a power reading: every kind of page and the
    serta-merta and alert banners on each of them."""
    seed(kiosk_store, cfg)  # its urgent announcement puts the serta-merta banner on every page
    feed("dmk-wl-01", {"water_cm": 171.0}, history_hours=2)  # and a flood alert
    feed("dmk-pw-01", {"mains_v": 221.0, "power_factor": 0.92})
    with LiveServer(make_app()) as running:
        yield running
