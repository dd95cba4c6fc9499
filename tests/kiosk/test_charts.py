"""Charts never hang the kiosk: guarded inputs, an axis of our own, every render bounded in time."""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.config import Config
from gateway.store import Store, db
from kiosk import charts
from kiosk.renderworker import BoundedWorker, RenderError, RenderTimeout
from tests.fixtures.wsgi import LiveServer

NEAR = math.nextafter(0.92, 1.0)  # 0.9200000000000002: what hourly means of 0.92 come out as
HOUR = 3600_000
BOUND_S = 10.0  # far above a render's tens of milliseconds, far below "forever"

POISON: dict[str, list[float]] = {
    "constant": [0.92] * 48,
    "near-constant": [0.92, NEAR] * 24,
    "near-constant-large": [220.0, math.nextafter(220.0, 300.0)] * 24,
    "single-point": [131.5],
    "empty": [],
    "nan": [float("nan"), 1.0, float("nan")],
    "only-nan": [float("nan")] * 5,
    "infinite": [float("inf"), 2.0, float("-inf")],
    "huge": [1e250, 1e250, 3e250],
    "too-huge": [1.7e308, 1.7e308],
    "huge-near-constant": [1e20, math.nextafter(1e20, 2e20)],
    "negative": [-12.5, -3.25, -40.0],
    "tiny": [1e-12, 2e-12, 1.5e-12],
    "zeros": [0.0, 0.0, 0.0],
}


@pytest.fixture
def worker() -> Iterator[BoundedWorker]:
    w = BoundedWorker(BOUND_S)
    yield w
    w.close()


def spec(values: list[float], decimals: int = 2, limit: float | None = None) -> dict[str, Any]:
    until = 1_750_000_000_000
    since = until - 7 * 24 * HOUR
    points = [[until - (len(values) - i) * HOUR, v] for i, v in enumerate(values)]
    return {"title": "Faktor daya", "unit": "", "decimals": decimals, "span": "7h", "points": points,
            "since": since, "until": until, "limit": limit, "limit_title": "Batas siaga",
            "no_data": "Data belum tersedia", "tz": "Asia/Jakarta"}  # fmt: skip


def y_labels(svg: str) -> list[str]:
    """The y axis' tick texts of a pygal chart."""
    axis = re.search(r'<g class="axis y[^"]*">(.*?)</g>\s*</g>', svg, re.S)
    assert axis, "no y axis"
    return re.findall(r"<text[^>]*>([^<]+)</text>", axis.group(1))


@pytest.mark.parametrize("name", sorted(POISON))
def test_every_poisonous_series_renders_in_time(worker: BoundedWorker, name: str) -> None:
    started = time.monotonic()
    svg = worker.call("kiosk.charts:render_svg", spec(POISON[name]))
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S
    ET.fromstring(svg.encode())  # a well-formed SVG document
    finite = [v for v in POISON[name] if math.isfinite(v)]
    if not finite or max(abs(v) for v in finite) > 1e300:
        assert "Data belum tersedia" in svg
        return
    labels = [float(t) for t in y_labels(svg)]
    assert len(labels) >= 3
    assert labels[0] <= min(finite) and max(finite) <= labels[-1]  # the axis holds every value drawn


def test_axis_is_rounded_and_holds_every_value() -> None:
    low, high, ticks = charts.axis([85.0, 131.5, 150.0], 0) or (0, 0, [])
    assert low <= 85 and high >= 150 and all(t == int(t) for t in ticks)
    svg = charts.render_svg(spec([78.38823529, 80.1, 79.77777], decimals=1))
    labels = y_labels(svg)
    assert all(re.fullmatch(r"-?\d+(\.\d)?", t) for t in labels), labels  # never 78.38823529
    water = charts.render_svg(spec([85.0, 90.0, 96.0], decimals=0, limit=150.0))
    numbers = [float(t) for t in y_labels(water)]
    assert numbers[0] <= 85.0 and numbers[-1] >= 150.0  # the level and the alert line both on the axis


def test_worker_stops_a_render_that_never_ends(worker: BoundedWorker) -> None:
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        worker.call("tests.kiosk.poison:forever", None, timeout_s=1.0)
    assert time.monotonic() - started < BOUND_S
    with pytest.raises(RenderError, match="broken on purpose"):
        worker.call("tests.kiosk.poison:fail", None)
    assert worker.call("tests.kiosk.poison:echo", {"a": [1, 2]}) == {"a": [1, 2]}  # a fresh child answers


def feed_near_constant(store: Store, node: str, name: str, hours: int) -> None:
    """Hourly readings alternating 0.92 and the next float up, over ``hours`` (newest now)."""
    from gateway.frame import Frame

    writer = store.writer()
    now = db.now_ms()
    for i in range(hours):
        value = 0.92 if i % 2 else NEAR
        writer.write([Frame("r", node, 1, i, {name: value})], at=now - (hours - i) * HOUR)


@pytest.fixture
def poisoned_server(make_app: Callable[..., Flask], kiosk_store: Store, cfg: Config) -> Iterator[LiveServer]:
    from gateway.sample_content import seed

    seed(kiosk_store, cfg)
    feed_near_constant(kiosk_store, "demo-pw-01", "power_factor", 7 * 24)
    with LiveServer(make_app(KIOSK_PAGE_CACHE_SECONDS=0.0, KIOSK_CHART_CACHE_SECONDS=0.0)) as server:
        yield server


def get(url: str, timeout: float) -> tuple[int, dict[str, str], float]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status, dict(response.headers), time.monotonic() - started


def test_home_answers_while_poisonous_charts_are_requested(poisoned_server: LiveServer) -> None:
    url = poisoned_server.url
    _status, _headers, usual = get(url + "/", timeout=30)
    results: list[Any] = []

    def chart(span: str) -> None:
        try:
            results.append(get(f"{url}/kondisi/grafik/demo-pw-01/power_factor/{span}.svg", timeout=60))
        except Exception as err:  # reported by the assertion below
            results.append(err)

    threads = [threading.Thread(target=chart, args=(span,), name=f"chart-{i}")
               for i, span in enumerate(["7h", "24j"] * 3)]  # fmt: skip
    for t in threads:
        t.start()
    status, _headers, home = get(url + "/", timeout=30)
    assert status == 200
    assert home < max(5.0, 20 * usual)  # its usual time (tens of ms), with room for a busy machine
    for page in ("/permohonan", "/status"):
        assert get(url + page, timeout=30)[0] == 200
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 6 and all(isinstance(r, tuple) for r in results), results
    assert all(r[0] == 200 and r[1]["X-Kiosk-Chart"] == "drawn" for r in results)


def test_a_stuck_worker_dies_with_the_kiosk(tmp_path: Any) -> None:
    """A child computing forever is not left behind when the kiosk process ends."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from kiosk.renderworker import BoundedWorker\n"
        "w = BoundedWorker(600.0)\n"
        "w._ensure()\n"
        "print(w._proc.pid, flush=True)\n"
        'w._proc.stdin.write(b\'{"call": "tests.kiosk.poison:forever", "arg": null}\\n\')\n'
        "w._proc.stdin.flush()\n"
    )
    kiosk = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    child = int(kiosk.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_idle_render_worker_is_stopped_and_started_again_on_use() -> None:
    """The child gives its memory back after ``idle_stop_s`` without a call; the next call starts a fresh one."""
    w = BoundedWorker(BOUND_S, idle_stop_s=0.5)
    try:
        assert "<svg" in w.call("kiosk.charts:render_svg", spec([1.0, 2.0]))
        child = w._proc
        assert child is not None
        child.wait(60)  # stopped by the worker itself once idle (a child that stays would time out here)
        assert w._proc is None
        assert "<svg" in w.call("kiosk.charts:render_svg", spec([3.0, 4.0]))
        assert w._proc is not None and w._proc.pid != child.pid
    finally:
        w.close()
