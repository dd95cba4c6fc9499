"""Every target fits a finger: a real Chromium walks every page reachable from home, in both languages, and
measures every link, button and label (an input counts by its label) — at least 44 x 44 CSS px (WCAG 2.5.5)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_browser import shot

MIN_PX = 44
SKIP = ("/static/", "/kondisi/grafik/", "/bahasa/", "/tampilan/", "/api/")
MAX_PAGES = 80

TARGETS_JS = """() => {
  const out = [];
  const seen = new Set();
  for (const e of document.querySelectorAll('a[href], button, label, select, textarea, summary, '
      + 'input:not([type=hidden]):not([type=radio]):not([type=checkbox])')) {
    const st = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    if (!r.width && !r.height) continue;  // not shown (a closed dialog, a hidden block)
    if (st.visibility === 'hidden') continue;
    const name = e.tagName + ' ' + (e.id || e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40));
    if (seen.has(name)) continue;
    seen.add(name);
    if (r.width < MIN || r.height < MIN) {
      out.push(location.pathname + location.search + ' ' + name + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
    }
  }
  return out;
}""".replace("MIN", str(MIN_PX))

LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"


def walk(page: Any, base: str) -> tuple[list[str], list[str]]:
    """(pages visited, targets too small) of a breadth-first walk of same-origin links from home."""
    queue, visited, small = [base + "/"], [], []
    while queue and len(visited) < MAX_PAGES:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.append(url)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        small += page.evaluate(TARGETS_JS)
        for href in page.evaluate(LINKS_JS):
            link = urldefrag(href)[0]
            parts = urlsplit(link)
            if link.startswith(base) and not parts.path.startswith(SKIP) and link not in visited:
                queue.append(link)
    return visited, small


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_target_fits_a_finger(seeded_server: LiveServer, touch_page: Any, lang: str) -> None:
    page = touch_page
    page.goto(f"{seeded_server.url}/bahasa/{lang}?kembali=/")
    visited, small = walk(page, seeded_server.url)
    paths = {urlsplit(u).path for u in visited}
    assert {"/", "/informasi", "/informasi/berkala", "/pengumuman", "/kondisi", "/permohonan", "/pengaduan",
            "/keberatan", "/status"} <= paths  # fmt: skip
    assert any(p.startswith("/dokumen/") for p in paths)
    page.goto(seeded_server.url + "/pengaduan")
    page.tap("#judul")
    page.wait_for_selector("#kb:not([hidden])")
    small += page.evaluate(TARGETS_JS)
    shot(page, f"30-targets-{lang}-keyboard")
    assert small == [], f"{len(small)} targets under {MIN_PX} px on {len(visited)} pages: " + "\n".join(small)
