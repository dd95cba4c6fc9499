"""Screenshots of the central's fleet pages (fleet with map, alerts, completeness, a sensor chart) as a logged-in
officer, with Debian's Chromium driven by Playwright: ``python scripts/fleet-screenshots.py URL USER PASSWORD
OUT_DIR [NODE/MEASUREMENT ...]``. Used for the README's pictures of ``make demo``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def main(url: str, user: str, password: str, out: str, *charts: str) -> None:
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
        pages = [
            ("fleet", "/armada"),
            ("alerts", "/peringatan"),
            ("completeness", "/kelengkapan?kelompok=node"),
        ]
        pages += [(f"chart-{c.replace('/', '-')}", f"/grafik/{c}") for c in charts]
        for name, path in pages:
            page.goto(url + path)
            page.screenshot(path=str(target / f"{name}.png"), full_page=True)
            print(target / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
