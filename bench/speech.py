"""Reading aloud: what "Dengarkan" costs the kiosk, per page, in Bahasa Indonesia and English.

The kiosk app (in process, Flask's test client, the page cache off) over a store seeded with the sample content
renders each public page; for each it reports the page's render time, the share spent on extracting the text
to read (``readable_text`` of the page), the passage's length, the first synthesis (espeak-ng, made and
written to the WAV cache) and a second request (served from the cache), the WAV's size and how long it speaks.
The LAST line is one JSON object with the worst first synthesis and the mean text extraction.

    .venv/bin/python bench/speech.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway import config as config_mod  # noqa: E402
from gateway.sample_content import seed  # noqa: E402
from gateway.store import Store  # noqa: E402
from kiosk.app import close_app, create_app  # noqa: E402
from kiosk.speech import readable_text  # noqa: E402

PAGES = {"home": "/", "dip": "/informasi/berkala", "news": "/pengumuman", "form": "/permohonan"}
LISTEN_RE = re.compile(r'id="listen" data-src="([^"]+)"')
MAIN_RE = re.compile(r'<main id="main">(.*)</main>', re.S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="renders per page for the timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "anjungan.toml"
        overrides = {"gateway": {"id": "bench-kiosk", "data_dir": str(folder / "data")}, "mqtt": {"host": ""}}
        path.write_text(config_mod.commented_toml(overrides))
        cfg = config_mod.load(path, env={})
        with Store.from_config(cfg) as store:
            seed(store, cfg)
        app = create_app(cfg, {"KIOSK_PAGE_CACHE_SECONDS": 0.0, "KIOSK_ALERT_CACHE_SECONDS": 60.0})
        rows = []
        try:
            for lang in ("id", "en"):
                client = app.test_client()
                client.get(f"/bahasa/{lang}")
                for name, page_path in PAGES.items():
                    client.get(page_path)  # warm
                    renders, extracts = [], []
                    for _ in range(args.rounds):
                        started = time.perf_counter()
                        body = client.get(page_path).get_data(as_text=True)
                        renders.append(time.perf_counter() - started)
                        main_html = MAIN_RE.search(body)
                        assert main_html, page_path
                        started = time.perf_counter()
                        text = readable_text(main_html.group(1))
                        extracts.append(time.perf_counter() - started)
                    src = LISTEN_RE.search(body)
                    assert src, page_path
                    started = time.perf_counter()
                    first = client.get(src.group(1).replace("&amp;", "&"))
                    synth = time.perf_counter() - started
                    assert first.status_code == 200, first.status_code
                    started = time.perf_counter()
                    again = client.get(src.group(1))
                    cached = time.perf_counter() - started
                    assert again.data == first.data
                    rows.append({
                        "page": f"{lang} {name}", "chars": len(text),
                        "render_ms": statistics.median(renders) * 1000,
                        "extract_ms": statistics.median(extracts) * 1000,
                        "synth_ms": synth * 1000, "cached_ms": cached * 1000,
                        "wav_kb": len(first.data) / 1024, "speech_s": (len(first.data) - 44) / 44100,
                    })  # fmt: skip
        finally:
            close_app(app)
    header = f"{'page':<10} {'chars':>6} {'render ms':>10} {'text ms':>8} {'espeak ms':>10} {'cached ms':>10} {'WAV KiB':>8} {'speech s':>9}"
    print(header)
    for r in rows:
        print(f"{r['page']:<10} {r['chars']:>6} {r['render_ms']:>10.1f} {r['extract_ms']:>8.2f} {r['synth_ms']:>10.0f}"
              f" {r['cached_ms']:>10.1f} {r['wav_kb']:>8.0f} {r['speech_s']:>9.1f}")  # fmt: skip
    print(json.dumps({
        "bench": "speech",
        "max_first_synthesis_ms": round(max(r["synth_ms"] for r in rows), 1),
        "mean_text_extract_ms": round(statistics.mean(r["extract_ms"] for r in rows), 2),
        "mean_render_ms": round(statistics.mean(r["render_ms"] for r in rows), 1),
        "max_cached_ms": round(max(r["cached_ms"] for r in rows), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
