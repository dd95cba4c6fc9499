"""Reading a receipt aloud under a burst: what 12 parallel requests for one session's private reading cost the
kiosk's other visitors.

The kiosk app is served by waitress (as ``anjungan kiosk`` serves it, 4 threads) over a store seeded with the
sample content. One session makes a request (the form, as a citizen sends it) and opens its receipt; then 12
clients fetch that receipt's reading ("Dengarkan", ``/dengarkan/...``) at once with the session's cookie,
while the home page is asked again and again. The table shows the home page's time idle and during the burst,
the answers the burst got (200: the audio; 429: one synthesis per session at a time, or the rate limit), and
how many times espeak-ng ran. The LAST line is one JSON object.

    .venv/bin/python bench/speech_private.py [--parallel 12]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway import config as config_mod  # noqa: E402
from gateway.sample_content import seed  # noqa: E402
from gateway.store import Store  # noqa: E402
from kiosk.app import close_app, create_app  # noqa: E402
from tests.kiosk.helpers import number_on, post, request_data  # noqa: E402

LISTEN_RE = re.compile(r'id="listen" data-src="([^"]+)"')


def _get(url: str, cookie: str | None = None) -> tuple[int, float]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, (time.perf_counter() - started) * 1000


def _home_times(base: str, rounds: int, until: threading.Event | None = None) -> list[float]:
    times = []
    while len(times) < rounds or (until is not None and not until.is_set()):
        times.append(_get(base + "/")[1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=12, help="requests for the reading at once")
    args = parser.parse_args()
    import waitress.server

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = folder / "runs"
        espeak = folder / "espeak-ng"  # counts its runs, then is the real espeak-ng
        espeak.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec espeak-ng "$@"\n')
        espeak.chmod(0o755)
        path = folder / "anjungan.toml"
        overrides = {"gateway": {"id": "bench-kiosk", "data_dir": str(folder / "data")}, "mqtt": {"host": ""}}
        path.write_text(config_mod.commented_toml(overrides))
        cfg = config_mod.load(path, env={})
        with Store.from_config(cfg) as store:
            seed(store, cfg)
        app = create_app(cfg, {"KIOSK_ESPEAK": str(espeak), "KIOSK_PAGE_CACHE_SECONDS": 0.0})
        client = app.test_client()
        number = number_on(post(client, "/permohonan", request_data()))
        receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
        src = LISTEN_RE.search(receipt)
        assert src, "no Dengarkan on the receipt"
        cookie_value = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        assert cookie_value is not None
        cookie = f"{cookie_value.key}={cookie_value.value}"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = waitress.server.create_server(app, host="127.0.0.1", port=port, threads=4)
        serving = threading.Thread(target=server.run, daemon=True)
        serving.start()
        base = f"http://127.0.0.1:{port}"
        try:
            _home_times(base, 5)  # warm
            idle = _home_times(base, 40)
            answers: list[tuple[int, float]] = []
            done = threading.Event()
            burst_started = time.perf_counter()

            def fetch() -> None:
                answers.append(_get(base + src.group(1).replace("&amp;", "&"), cookie))

            fetchers = [threading.Thread(target=fetch) for _ in range(args.parallel)]
            for fetcher in fetchers:
                fetcher.start()
            homes: list[float] = []
            watcher = threading.Thread(target=lambda: homes.extend(_home_times(base, 10, done)))
            watcher.start()
            for fetcher in fetchers:
                fetcher.join()
            burst_ms = (time.perf_counter() - burst_started) * 1000
            done.set()
            watcher.join()
            again = _get(base + src.group(1).replace("&amp;", "&"), cookie)
        finally:
            server.close()
            close_app(app)
        synth_runs = len(runs.read_text().splitlines()) if runs.exists() else 0
    statuses = Counter(status for status, _ in answers)
    rows = [
        ("home page idle, median ms", f"{statistics.median(idle):.1f}"),
        ("home page during the burst, median ms", f"{statistics.median(homes):.1f}"),
        ("home page during the burst, worst ms", f"{max(homes):.1f}"),
        (f"burst of {args.parallel}: answers", ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))),
        ("burst, until the last answer ms", f"{burst_ms:.0f}"),
        ("espeak-ng runs", str(synth_runs)),
        ("the same reading again (from memory) ms", f"{again[1]:.1f} ({again[0]})"),
    ]
    for name, value in rows:
        print(f"{name:<42} {value}")
    print(json.dumps({
        "bench": "speech_private", "parallel": args.parallel,
        "home_idle_median_ms": round(statistics.median(idle), 1),
        "home_burst_median_ms": round(statistics.median(homes), 1),
        "home_burst_max_ms": round(max(homes), 1),
        "answers": {str(s): n for s, n in sorted(statuses.items())},
        "espeak_runs": synth_runs, "again_ms": round(again[1], 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
