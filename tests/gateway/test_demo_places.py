"""``make demo`` sets up its central as an officer would: its OPDs, the places and producers of its nodes, and
the kiosk's Satu Data region code, so that the published datasets carry a producer and a kode referensi."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import demo
from sync.central.app import open_central
from sync.central.opendata import satudata


@pytest.mark.timeout(600)
def test_the_demo_places_its_nodes_with_producers_and_a_region_code(tmp_path: Path) -> None:
    gateway_id = demo._credentials(tmp_path)["gateway_id"]
    demo._officers(tmp_path)
    demo._places(tmp_path, gateway_id)
    demo._places(tmp_path, gateway_id)  # a second start changes nothing
    state = open_central(demo._central_db(tmp_path))
    try:
        with state.engine.connect() as conn:
            where = satudata.place_lookup(conn, "Diskominfo")
            assert satudata.check_region_code(demo.REGION_CODE) == "33.21.08"
            for node, opd in demo.NODE_PRODUCERS.items():
                assert where(gateway_id, node) == satudata.Place(demo.REGION_CODE, demo.DEMO_OPDS[opd])
            meta = satudata.dataset_metadata(
                [{"name": "water_cm", "producer": where(gateway_id, "demo-wl-01").producer,
                  "region_code": where(gateway_id, "demo-wl-01").region_code}], "hour", "Diskominfo")  # fmt: skip
            assert meta["kode_referensi"] == "33.21.08" and meta["produsen_data"] == "BPBD Kabupaten Demak"
    finally:
        state.engine.dispose()
