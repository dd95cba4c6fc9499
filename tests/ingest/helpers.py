"""Shared helpers of the ingest tests: waiting, pty writing, counting what the store holds."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.store import Store

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "frames.json"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def vector_cases() -> list[dict[str, Any]]:
    cases = json.loads(VECTORS.read_text())["cases"]
    for case in cases:
        case["line"] = base64.b64decode(case["line_b64"])
    return cases


def frame_keys(store: Store, node: str | None = None) -> list[tuple[str, int, int]]:
    sql = "SELECT n.node, f.boot, f.q FROM frames f JOIN nodes n ON n.id = f.node_id"
    args: tuple[Any, ...] = ()
    if node is not None:
        sql += " WHERE n.node = ?"
        args = (node,)
    return [tuple(r) for r in store.conn.execute(sql + " ORDER BY n.node, f.boot, f.q", args)]  # type: ignore[misc]


def count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def anjungan(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``anjungan ARGS`` with this interpreter; stdout and stderr go to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = 15, timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
