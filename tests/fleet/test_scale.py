"""The fleet page at fleet size: kiosks a page at a time with their filters and sort kept in the page links,
and each kiosk's node list bounded (silent nodes first), with every node on the kiosk's own pages."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from sync import protocol
from sync.central import service
from sync.central.backoffice import audit
from sync.central.fleet import alerts, overview, places
from sync.central.fleet.settings import FleetSettings
from tests.central.conftest import Clock, Gateway, central_of
from tests.central.officers import logged_in

KIOSKS = 120
P = overview.PER_PAGE  # 25
HEALTH = protocol.HEADER_HEALTH
NODES = ";".join(f"n-{i:02d},boot=3,fw=1.0.3,every=60,seen={10_000 if i >= 25 else 5}" for i in range(30))


def _fleet(app: Flask, clock: Clock) -> list[str]:
    """120 kiosks ``desa-000`` ... ``desa-119``: 000-009 last heard 1,000 s ago (silent, an alert each), 010-019
    heard now (010 with 30 nodes, 5 of them silent: 5 alerts), the rest never heard; 115 placed at Balai Desa
    Krajan."""
    state = central_of(app)
    issued = [service.add_gateway(state.engine, state.master_key, f"Desa {i:03d}") for i in range(KIOSKS)]
    kiosks = [Gateway(g["gateway_id"], g["secret"], app.test_client(), clock) for g in issued]
    now = clock.now
    clock.now = now - 1000
    for kiosk in kiosks[:10]:
        assert kiosk.get("/api/v1/changes", headers={HEALTH: "sync_s=60"}).status_code == 200
    clock.now = now
    for i, kiosk in enumerate(kiosks[10:20], start=10):
        headers = {HEALTH: "sync_s=60", **({protocol.HEADER_NODES: NODES} if i == 10 else {})}
        assert kiosk.get("/api/v1/changes", headers=headers).status_code == 200
    alerts.run(state.engine, int(now * 1000), FleetSettings())
    places.set_place(state.engine, "desa-115", "", "Balai Desa Krajan", -6.9, 110.6, audit.Actor("tek-uji", "teknisi"),
                     int(now * 1000))  # fmt: skip
    return [k.id for k in kiosks]


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr id="kiosk-([^"]+)"', page)


def _nodes(page: str) -> list[str]:
    return re.findall(r'<tr class="node[^"]*"><td><strong>([^<]+)</strong>', page)


def _page_links(page: str) -> list[dict[str, list[str]]]:
    nav = re.search(r'<nav class="pages">(.*?)</nav>', page, re.S)
    assert nav, "no page links"
    return [
        parse_qs(urlsplit(href.replace("&amp;", "&")).query)
        for href in re.findall(r'href="([^"]+)"', nav.group(1))
    ]


def test_the_fleet_is_paged_with_its_filters_and_sort_kept(app: Flask, clock: Clock) -> None:
    ids = _fleet(app, clock)
    tek = logged_in(app, "tek-budi", "teknisi")
    first = tek.get("/armada").get_data(as_text=True)
    assert _rows(first) == ids[:P]
    assert "120 anjungan terdaftar." in first and "110 diam." in first and "halaman 1 dari 5" in first
    assert [link["page"] for link in _page_links(first)] == [["2"], ["5"]]
    assert _rows(tek.get("/armada?page=2").get_data(as_text=True)) == ids[P : 2 * P]
    assert _rows(tek.get("/armada?page=5").get_data(as_text=True)) == ids[4 * P :]
    assert _rows(tek.get("/armada?page=999").get_data(as_text=True)) == ids[4 * P :]  # past the end: the last

    assert _rows(tek.get("/armada?state=ok").get_data(as_text=True)) == ids[11:20]
    assert _rows(tek.get("/armada?state=alerts").get_data(as_text=True)) == ids[:11]  # 010: its silent nodes
    assert _rows(tek.get("/armada?q=Desa+07").get_data(as_text=True)) == ids[70:80]
    assert _rows(tek.get("/armada?q=krajan").get_data(as_text=True)) == ["desa-115"]  # by its place's label
    nothing = tek.get("/armada?q=%25").get_data(as_text=True)  # a LIKE wildcard is a plain character
    assert _rows(nothing) == [] and "Tidak ada anjungan yang cocok." in nothing

    # never heard first, then the longest silent; the page links keep the query
    silent = tek.get("/armada?state=silent&sort=contact&q=desa").get_data(as_text=True)
    assert _rows(silent) == ids[20 : 20 + P] and "110 anjungan, halaman 1 dari 5" in silent
    links = _page_links(silent)
    assert links and all(
        link["state"] == ["silent"] and link["sort"] == ["contact"] and link["q"] == ["desa"]
        for link in links
    )
    last = tek.get("/armada?state=silent&sort=contact&q=desa&page=5").get_data(as_text=True)
    assert _rows(last) == ids[:10]
    assert all("page" in link for link in _page_links(last))
    assert _rows(tek.get("/armada?sort=alerts").get_data(as_text=True))[:11] == ids[10:11] + ids[:10]
    assert (
        tek.get("/armada?state=dead").status_code == 400 and tek.get("/armada?sort=size").status_code == 400
    )


def test_node_lists_are_bounded_and_a_kiosk_pages_its_nodes(
    app: Flask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fleet(app, clock)
    tek = logged_in(app, "tek-sari", "teknisi")
    page = tek.get("/armada?q=desa-010").get_data(as_text=True)
    shown = _nodes(page)
    assert len(shown) == overview.NODES_SHOWN == 12
    assert shown[:5] == [f"n-{i}" for i in range(25, 30)]  # the silent ones first
    assert shown[5:] == [f"n-{i:02d}" for i in range(7)]
    assert "Semua 30 node (5 diam)" in page and 'href="/armada/anjungan/desa-010"' in page

    monkeypatch.setattr(overview, "NODES_PER_PAGE", 25)
    own = tek.get("/armada/anjungan/desa-010").get_data(as_text=True)
    assert len(_nodes(own)) == 25 and "Node halaman 1 dari 2" in own and _rows(own) == ["desa-010"]
    rest = tek.get("/armada/anjungan/desa-010?page=2").get_data(as_text=True)
    assert _nodes(rest) == [f"n-{i:02d}" for i in range(20, 25)]
    assert _nodes(tek.get("/armada/anjungan/desa-010?page=9").get_data(as_text=True)) == _nodes(rest)
    assert set(_nodes(own)) | set(_nodes(rest)) == {f"n-{i:02d}" for i in range(30)}
    assert tek.get("/armada/anjungan/desa-999").status_code == 404
