"""The sync suites' harness: a central served on a free port in threads (tests/fixtures/wsgi.py), a gateway configured
for it (small backoff caps so that retries are quick), and helpers to fill the gateway's store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import config as config_mod
from gateway.frame import Frame
from gateway.store import Store
from sync.central import service
from sync.central.app import CentralState, create_app
from sync.central.db import STREAM_TABLES
from sync.client import Settings, SyncClient
from tests.fixtures.wsgi import LiveServer


class SettableClock:
    """The central's clock, shifted by ``skew_s`` (to play a gateway whose clock is wrong)."""

    def __init__(self) -> None:
        self.skew_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew_s


@dataclass
class CentralHandle:
    """The real central app (sync.central) served over HTTP, with one gateway registered."""

    state: CentralState
    clock: SettableClock
    host: str
    port: int
    gateway_id: str
    secret: str
    app: Any = None  # the Flask app (for logging in to its back office)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def seqs(self, stream: str) -> list[int]:
        table = STREAM_TABLES[stream]
        query = sa.select(table.c.seq).where(table.c.gateway_id == self.gateway_id).order_by(table.c.seq)
        with self.state.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def submissions(self) -> list[dict[str, Any]]:
        return [s for s in service.export_submissions(self.state.engine, include_personal=True)
                if s.get("gateway") == self.gateway_id]  # fmt: skip

    def publish(self, kind: str, key: str, data: dict[str, Any], op: str = "upsert") -> None:
        service.publish_content(
            self.state.engine, kind, key, data, gateway_id=self.gateway_id, delete=op == "delete"
        )

    def put_file(self, data: bytes) -> str:
        return service.store_file(self.state.files_dir, data)

    def stored_file(self, sha256: str) -> Path:
        path = service.file_path(self.state.files_dir, sha256)
        assert path is not None
        return path


@pytest.fixture
def central(central_db: str, tmp_path: Path) -> Iterator[CentralHandle]:
    clock = SettableClock()
    app = create_app(central_db, files_dir=tmp_path / "central-files", key_file=tmp_path / "central.key",
                     clock=clock)  # fmt: skip
    state: CentralState = app.extensions["anjungan.central"]
    issued = service.add_gateway(state.engine, state.master_key, "gw-test")
    try:
        with LiveServer(app, name="central-test-server") as server:
            yield CentralHandle(
                state, clock, server.host, server.port, issued["gateway_id"], issued["secret"], app
            )
    finally:
        state.engine.dispose()


def write_config(tmp_path: Path, url: str, gateway_id: str, secret: str, **sync: Any) -> Path:
    path = tmp_path / "gateway.toml"
    overrides = {
        "gateway": {
            "id": "test-kiosk",
            "data_dir": str(tmp_path / "data"),
            "commit_interval_s": 0,
            "journal_dir": str(tmp_path / "run"),
        },
        "mqtt": {"host": ""},
        "central": {"url": url, "gateway_id": gateway_id, "secret": secret},
        "sync": {"backoff_cap_s": 0.2, "interval_s": 1, **sync},
    }
    path.write_text(config_mod.commented_toml(overrides))
    return path


@pytest.fixture
def gateway_config(tmp_path: Path, central: CentralHandle) -> Path:
    return write_config(tmp_path, central.url, central.gateway_id, central.secret)


@pytest.fixture
def make_client(gateway_config: Path, store: Store) -> Iterator[Callable[..., SyncClient]]:
    """Build a SyncClient on the test store (``url=`` to go through a proxy); closed after the test."""
    made: list[SyncClient] = []

    def make(url: str | None = None, secret: str | None = None, **kwargs: Any) -> SyncClient:
        settings = Settings.from_config(config_mod.load(gateway_config, env={}))
        settings.url = url or settings.url
        settings.secret = secret or settings.secret
        settings.backoff_base_s = 0.01
        client = SyncClient(store, settings, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def fill(
    store: Store, *, frames: int = 0, events: int = 0, submissions: int = 0, ratings: int = 0, start: int = 0
) -> None:
    """Readings (5 per frame from 3 nodes), events, citizens' submissions and satisfaction ratings, as the real
    writers make them."""
    if frames:
        batch = [
            Frame("r", f"node-{i % 3}", 1, start + i,
                  {"water_cm": 100.0 + i % 50, "temp_c": 27.5, "rh_pct": 80.0 + i % 7, "rain_mm": 0.0, "bat_v": 3.7})
            for i in range(frames)
        ]  # fmt: skip
        store.writer().write(batch)
    for i in range(events):
        store.add_event("test", {"i": start + i})
    for i in range(submissions):
        store.add_submission(
            "request",
            {"subject": f"request {start + i}"},
            {"name": "Siti", "nik": "3517000000000001", "phone": "0812000000"},
            gateway_id="test-kiosk",
            due_date=date(2030, 1, 1),
        )
    for i in range(ratings):
        store.add_rating(
            "status-check",
            {"u1": 1 + (start + i) % 4, "u3": 4, "u9": 2},
            day=date(2026, 11, 2),  # one day: its ratings go once there are K of them (docs/skm.md)
            uuid=f"00000000-0000-4000-8000-{start + i:012d}",
        )


def store_seqs(store: Store, stream: str) -> list[int]:
    table = {"readings": "readings", "events": "events", "submissions": "submissions", "ratings": "ratings"}
    table = table[stream]  # each stream's table has the stream's name
    return [r[0] for r in store.conn.execute(f"SELECT seq FROM {table} ORDER BY seq")]
