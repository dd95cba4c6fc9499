"""``anjungan doctor``: plain-words checks of a gateway's set-up."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from typing import Any

from gateway.errors import AnjunganError


def run_checks(cfg: Any) -> Iterator[tuple[bool, str]]:
    yield True, f"configuration read from {cfg.path or 'built-in defaults'}"
    yield from _permissions(cfg)
    yield from _store(cfg)
    for entry in cfg.serial:
        port = entry.port
        exists = os.path.exists(port)
        yield (
            exists,
            f"serial port {port} {'is present' if exists else 'is missing (is the node plugged in?)'}",
        )
    if cfg.mqtt.host:
        yield _reachable(cfg.mqtt.host, cfg.mqtt.port, "MQTT broker")
    if cfg.central.url:
        yield from _central(cfg)
    else:
        yield True, "no central configured: the kiosk works offline and nothing syncs"


def _permissions(cfg: Any) -> Iterator[tuple[bool, str]]:
    """Each file holding secrets or citizens' data, and the data folder, must be private (gateway.private)."""
    from pathlib import Path

    from gateway import private

    data_dir = Path(cfg.data_dir)
    store = Path(cfg.store_path)
    paths = [Path(cfg.path)] if cfg.path else []
    paths += [data_dir, store, Path(f"{store}-wal"), Path(f"{store}-shm"), data_dir / "kiosk.key"]
    loose = [(path, why) for path in paths if (why := private.loose(path)) is not None]
    for path, why in loose:
        yield False, f"{path} is not private: {why}"
    if not loose:
        yield True, "configuration, store and data folder are private to their owner"


def _store(cfg: Any) -> Iterator[tuple[bool, str]]:
    from gateway.store import Store

    try:
        with Store.from_config(cfg) as store:
            used = store.used_bytes()
            budget = int(cfg.gateway.store_budget_mb) << 20
            yield (
                used < budget,
                f"store {store.path}: {used / 1e6:.1f} MB used of a {budget / 1e6:.0f} MB budget",
            )
            for stream, info in store.backlog().items():
                yield True, f"{stream}: {info['pending']} waiting to sync, {info['dead_letters']} refused"
    except AnjunganError as err:
        yield False, f"store: {err}"
        return
    free = shutil.disk_usage(cfg.data_dir).free
    yield free > 100 << 20, f"{free / 1e9:.1f} GB free on the disk holding {cfg.data_dir}"


def _reachable(host: str, port: int, what: str) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True, f"{what} at {host}:{port} answers"
    except OSError as err:
        return False, f"{what} at {host}:{port} does not answer ({err.strerror or err})"


def _central(cfg: Any) -> Iterator[tuple[bool, str]]:
    import time

    import requests
    import urllib3

    url = cfg.central.url.rstrip("/") + "/api/v1/time"
    try:  # the answer is read to 64 KiB at most, unpacked: whatever is on the line cannot flood memory
        with requests.get(url, timeout=5, stream=True, headers={"Accept-Encoding": "identity"}) as answer:
            answer.raise_for_status()
            body = answer.raw.read(64 << 10, decode_content=False)
        skew = float(json.loads(body)["time"]) - time.time()
    except (
        requests.RequestException,
        urllib3.exceptions.HTTPError,
        ValueError,
        KeyError,
        TypeError,
        OSError,
    ) as err:
        yield False, f"central {cfg.central.url} cannot be reached: {err}"
        return
    yield True, f"central {cfg.central.url} answers"
    yield abs(skew) < 60, f"this clock is {skew:+.0f} s off the central's"
    yield (
        bool(cfg.central.gateway_id and cfg.central.secret),
        "central credentials (gateway_id, secret) are set",
    )
