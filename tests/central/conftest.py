"""Fixtures of the central's tests: a database on SQLite and on a real PostgreSQL, the app, a gateway."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sync import protocol
from sync.central import service
from sync.central.app import CentralState, create_app

T0 = 1_795_449_600.0


class Clock:
    """A settable clock for the app (unix seconds)."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_url(central_db: str) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    return central_db


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Flask]:
    app = create_app(
        db_url,
        files_dir=tmp_path / "files",
        key_file=tmp_path / "central.key",
        max_body=1 << 20,
        max_inflated=4 << 20,
        clock=clock,
    )
    app.config["TESTING"] = True
    yield app
    central_of(app).engine.dispose()


def central_of(app: Flask) -> CentralState:
    return app.extensions["anjungan.central"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Gateway:
    """A registered gateway that signs its requests with the app's clock."""

    id: str
    secret: str
    client: FlaskClient
    clock: Clock

    def request(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None, **sign: Any
    ) -> Any:
        signed = protocol.signed_headers(
            sign.get("gateway_id", self.id),
            sign.get("secret", self.secret),
            method,
            sign.get("signed_target", target),
            sign.get("signed_body", body),
            sign.get("now", self.clock()),
        )
        return self.client.open(
            target, method=method, data=body, headers={**signed, **(headers or {})}, buffered=True
        )

    def send(self, stream: str, records: list[dict], **options: Any) -> Any:
        body, headers = protocol.encode_batch(stream, records, **options)
        return self.request("POST", "/api/v1/batches", body, headers)

    def get(self, target: str, headers: dict[str, str] | None = None) -> Any:
        return self.request("GET", target, headers=headers)


@pytest.fixture
def gateway(app: Flask, client: FlaskClient, clock: Clock) -> Gateway:
    state = central_of(app)
    issued = service.add_gateway(state.engine, state.master_key, "dmk-wonosalam")
    return Gateway(issued["gateway_id"], issued["secret"], client, clock)


def reading(seq: int, value: float = 20.5, offset: int | None = 0, at: int = 1_795_449_600_000) -> dict:
    return {
        "seq": seq,
        "node": "dmk-wl-01",
        "boot": 12,
        "q": seq + 100,
        "name": "water_cm",
        "value": value,
        "at": at + seq * 1000,
        "offset": offset,
    }


def readings(first: int, last: int, **kwargs: Any) -> list[dict]:
    return [reading(seq, **kwargs) for seq in range(first, last + 1)]


def submission(seq: int, number: str = "DMK-WONOSALAM-261128-00010") -> dict:
    return {
        "seq": seq,
        "uuid": f"6f1c2d7e-0000-4000-8000-{seq:012d}",
        "number": number,
        "kind": "request",
        "at": 1_795_449_600_000,
        "offset": None,
        "due_date": "2026-12-10",
        "public": {"subject": "APBDes 2025"},
        "personal": {"name": "Siti", "nik": "3321010101010001"},
    }


def event(seq: int) -> dict:
    return {"seq": seq, "at": 1_795_449_600_000, "offset": 5, "node": None, "kind": "boot", "data": {"v": 1}}
