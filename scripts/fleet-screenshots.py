#!/usr/bin/env python3
"""Screenshots of the central's fleet pages (fleet with map, alerts, completeness, sensor charts) as a logged-in
officer, with Debian's Chromium driven by Playwright:
``scripts/fleet-screenshots.py URL USER PASSWORD OUT_DIR [GATEWAY/NODE/MEASUREMENT ...]``.

It writes ``fleet-armada.png``, ``fleet-peringatan.png``, ``fleet-kelengkapan.png`` (the README's pictures of
``make demo``, kept in docs/images/; the names tests/fleet/test_browser.py gives the same pages) and one
``fleet-grafik-GATEWAY-NODE-MEASUREMENT.png`` per chart asked for, and prints each path."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# file name -> the page's path at the central
PAGES = {
    "fleet-armada.png": "/armada",
    "fleet-peringatan.png": "/peringatan",
    "fleet-kelengkapan.png": "/kelengkapan?kelompok=node",
}


def chart_pages(charts: tuple[str, ...]) -> dict[str, str]:
    """File name -> path of each chart ``GATEWAY/NODE/MEASUREMENT``."""
    return {f"fleet-grafik-{c.replace('/', '-')}.png": f"/grafik/{c}" for c in charts}


def main(url: str, user: str, password: str, out: str, *charts: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.fixtures.chromium import CHROMIUM, CHROMIUM_ARGS

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="id-ID").new_page()
        page.goto(url + "/")
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/armada.*|.*/kotak-masuk.*|.*/pengguna.*"))
        for name, path in {**PAGES, **chart_pages(charts)}.items():
            page.goto(url + path)
            page.screenshot(path=str(target / name), full_page=True)
            print(target / name)
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
