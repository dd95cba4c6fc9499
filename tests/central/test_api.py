"""The sync API end to end through the WSGI app, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sync.central import service
from tests.central.conftest import Clock, Gateway, central_of, event, readings, submission
from tests.central.officers import logged_in


def test_time_needs_no_signature(client: FlaskClient, clock: Clock) -> None:
    response = client.get("/api/v1/time")
    assert response.status_code == 200 and response.json == {"time": clock.now}


def test_unsigned_request_is_refused(client: FlaskClient) -> None:
    response = client.post("/api/v1/batches", data=b'{"stream":"events","records":[]}')
    assert response.status_code == 401 and response.json["error"] == "bad signature"


def test_batch_is_stored_once_and_acked(gateway: Gateway) -> None:
    first = gateway.send("readings", readings(1, 50))
    assert first.status_code == 200 and first.json == {"stream": "readings", "acked": 50}
    again = gateway.send("readings", readings(1, 50))
    assert again.json == first.json
    rows = list(service.export_readings(central_of(gateway.client.application).engine))
    assert len(rows) == 50


def test_replayed_request_with_old_timestamp_is_clock_skew(gateway: Gateway, clock: Clock) -> None:
    response = gateway.send("readings", readings(1, 2))
    assert response.status_code == 200
    clock.now += 301
    replay = gateway.request("POST", "/api/v1/batches", b"{}", now=clock.now - 301)
    assert replay.status_code == 401
    assert replay.json["error"] == "clock skew" and replay.json["server_time"] == int(clock.now)


def test_gateway_clock_ahead_is_clock_skew(gateway: Gateway, clock: Clock) -> None:
    response = gateway.request("GET", "/api/v1/changes", now=clock.now + 3600)
    assert response.status_code == 401 and response.json["error"] == "clock skew"


def test_tampered_body_target_or_identity_is_bad_signature(gateway: Gateway) -> None:
    body = json.dumps({"stream": "events", "records": [event(1)]}, separators=(",", ":")).encode()
    cases = [
        gateway.request("POST", "/api/v1/batches", body, signed_body=body.replace(b'"v":1', b'"v":2')),
        gateway.request(
            "GET", "/api/v1/changes?since=c-000002", signed_target="/api/v1/changes?since=c-000001"
        ),
        gateway.request("GET", "/api/v1/changes", gateway_id="someone-else"),
        gateway.request("GET", "/api/v1/changes", secret="not-the-secret"),
    ]
    for response in cases:
        assert response.status_code == 401, response.json
        assert response.json["error"] == "bad signature"


def test_gaps_hold_the_ack_until_filled(gateway: Gateway) -> None:
    assert gateway.send("readings", readings(1, 10)).json["acked"] == 10
    assert gateway.send("readings", readings(21, 30)).json["acked"] == 10
    assert gateway.send("readings", readings(11, 20)).json["acked"] == 30


def test_after_declares_evicted_seqs_gone(gateway: Gateway) -> None:
    assert gateway.send("readings", readings(1, 10)).json["acked"] == 10
    # 11..14 were evicted on the gateway: the batch says so with after=10
    assert gateway.send("readings", readings(15, 20), after=10).json["acked"] == 20
    # after above the acked seq cannot close the gap below it
    assert gateway.send("readings", readings(31, 40), after=25).json["acked"] == 20
    assert gateway.send("readings", readings(22, 25), after=20).json["acked"] == 25


def test_streams_are_acked_separately(gateway: Gateway) -> None:
    assert gateway.send("events", [event(1), event(2)]).json == {"stream": "events", "acked": 2}
    assert gateway.send("submissions", [submission(1)]).json == {"stream": "submissions", "acked": 1}
    assert gateway.send("readings", readings(2, 3)).json == {"stream": "readings", "acked": 0}


def test_malformed_records_are_rejected_by_seq_and_nothing_is_stored(gateway: Gateway) -> None:
    records = readings(1, 5)
    records[1]["value"] = "high"
    del records[3]["node"]
    response = gateway.send("readings", records, columnar=False)
    assert response.status_code == 422
    assert response.json == {
        "error": "rejected records",
        "stream": "readings",
        "rejected": [
            {"seq": 2, "reason": "'value' is not a finite number"},
            {"seq": 4, "reason": "'node' is missing"},
        ],
    }
    good = [r for r in records if r["seq"] not in (2, 4)]
    assert gateway.send("readings", good, after=0).json["acked"] == 5


def test_malformed_body_is_400(gateway: Gateway) -> None:
    response = gateway.request("POST", "/api/v1/batches", b'{"stream":"rain"}')
    assert response.status_code == 400 and response.json["error"] == "malformed"


def test_gzip_bomb_is_refused(gateway: Gateway) -> None:
    bomb = gzip.compress(b'{"stream":"events","records":[' + b" " * (20 << 20) + b"]}", 9)
    response = gateway.request("POST", "/api/v1/batches", bomb, {"Content-Encoding": "gzip"})
    assert response.status_code == 413 and response.json["error"] == "too large"


def test_oversized_request_is_refused(gateway: Gateway) -> None:
    response = gateway.request("POST", "/api/v1/batches", b" " * (2 << 20))
    assert response.status_code == 413


def test_corrected_and_gateway_time_are_kept(gateway: Gateway) -> None:
    records = readings(1, 2, offset=None)
    records[1]["offset"] = 2000
    assert gateway.send("readings", records).json["acked"] == 2
    rows = list(service.export_readings(central_of(gateway.client.application).engine))
    assert [r["received_at"] for r in rows] == ["2026-11-23T16:00:01.000Z", "2026-11-23T16:00:04.000Z"]
    assert rows[0] == {
        "gateway": gateway.id,
        "node": "dmk-wl-01",
        "boot": 12,
        "seq": 101,
        "name": "water_cm",
        "value": 20.5,
        "received_at": "2026-11-23T16:00:01.000Z",
    }


def test_changes_are_paged_with_an_opaque_cursor(app: Flask, gateway: Gateway) -> None:
    engine = central_of(app).engine
    for i in range(7):
        service.publish_content(
            engine, "announcement", f"a{i}", {"title": f"t{i}", "body": "b", "urgent": False}
        )
    service.set_config(engine, gateway.id, "kiosk.idle_s", 90)
    service.set_config(engine, "other-gateway", "kiosk.idle_s", 30)
    seen, cursor, pages = [], "", 0
    while True:
        response = gateway.get(f"/api/v1/changes?since={cursor}&limit=3")
        assert response.status_code == 200
        seen += response.json["changes"]
        cursor, pages = response.json["cursor"], pages + 1
        if not response.json["more"]:
            break
    assert pages == 3 and [c["id"] for c in seen] == [*(f"a{i}" for i in range(7)), "kiosk.idle_s"]
    assert seen[-1] == {"kind": "config", "id": "kiosk.idle_s", "op": "upsert", "data": {"value": 90}}
    assert gateway.get(f"/api/v1/changes?since={cursor}").json == {
        "cursor": cursor,
        "changes": [],
        "more": False,
    }
    service.publish_content(engine, "announcement", "a3", None, delete=True)
    later = gateway.get(f"/api/v1/changes?since={cursor}").json["changes"]
    assert later == [{"kind": "announcement", "id": "a3", "op": "delete", "data": {}}]


def test_bad_cursor_or_limit_is_400(gateway: Gateway) -> None:
    assert gateway.get("/api/v1/changes?since=42").status_code == 400
    assert gateway.get("/api/v1/changes?limit=0").status_code == 400


def test_submission_status_flows_down(app: Flask, gateway: Gateway) -> None:
    gateway.send("submissions", [submission(1)])
    service.set_submission_status(
        central_of(app).engine, gateway.id, "DMK-WONOSALAM-261128-00010", "answered", answer="Terlampir."
    )
    change = gateway.get("/api/v1/changes").json["changes"][0]
    assert change["kind"] == "submission" and change["id"] == "DMK-WONOSALAM-261128-00010"
    assert change["data"]["status"] == "answered" and change["data"]["due_date"] == "2026-12-10"
    exported = list(service.export_submissions(central_of(app).engine))
    assert exported[0]["status"] == "answered" and "personal" not in exported[0]


def test_files_resume_with_range(app: Flask, gateway: Gateway) -> None:
    state = central_of(app)
    data = bytes(range(256)) * 40
    sha = service.publish_document(state.engine, state.files_dir, data, title="APBDes", filename="apbdes.pdf")
    assert sha == hashlib.sha256(data).hexdigest()
    whole = gateway.get(f"/api/v1/files/{sha}")
    assert whole.status_code == 200 and whole.data == data and whole.headers["Accept-Ranges"] == "bytes"
    part = gateway.get(f"/api/v1/files/{sha}", headers={"Range": "bytes=4000-"})
    assert (
        part.status_code == 206 and part.headers["Content-Range"] == f"bytes 4000-{len(data) - 1}/{len(data)}"
    )
    assert data[:4000] + part.data == data
    assert gateway.get(f"/api/v1/files/{sha}", headers={"Range": "bytes=99999-"}).status_code == 416
    assert gateway.get(f"/api/v1/files/{'0' * 64}").status_code == 404
    assert gateway.client.get(f"/api/v1/files/{sha}", buffered=True).status_code == 401


def test_fleet_page_lists_gateways_with_acked_seqs(app: Flask, gateway: Gateway) -> None:
    gateway.send("readings", readings(1, 7))
    page = logged_in(app, "teknisi1", "teknisi").get("/armada").get_data(as_text=True)
    assert (
        gateway.id in page
        and "<td>7</td>" in page
        and "belum pernah" not in page.split(gateway.id)[1].split("</tr>")[0]
    )


def test_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.") and "/api/v1/batches" in doc["paths"]


def test_integers_beyond_64_bits_are_rejected_not_a_server_error(gateway: Gateway) -> None:
    records = readings(1, 4)
    records[0]["value"] = 10**400
    records[1]["q"] = 1 << 63
    records[2]["at"] = -(1 << 70)
    response = gateway.send("readings", records, columnar=False)
    assert response.status_code == 422, response.json
    assert [r["seq"] for r in response.json["rejected"]] == [1, 2, 3]
    assert gateway.send("readings", [records[3]], after=0).json["acked"] == 4  # 1-3 dead-lettered


@pytest.mark.parametrize("columnar", [None, False])
def test_a_corrected_time_beyond_64_bits_is_rejected_not_a_server_error(gateway: Gateway, columnar) -> None:
    """``at`` and ``offset`` each fit in 64 bits but their sum (the central's time of the record) does not."""
    records = readings(1, 4)
    records[1]["at"], records[1]["offset"] = (1 << 63) - 1, 1
    records[2]["at"], records[2]["offset"] = -(1 << 63) + 1, -(1 << 62) * 2
    response = gateway.send("readings", records, columnar=columnar)
    assert response.status_code == 422, response.json
    assert [r["seq"] for r in response.json["rejected"]] == [2, 3]
    assert "64-bit" in response.json["rejected"][0]["reason"]
    events = [event(1), event(2)]
    events[0]["at"], events[0]["offset"] = (1 << 63) - 1, 1 << 40
    response = gateway.send("events", events)
    assert response.status_code == 422 and [r["seq"] for r in response.json["rejected"]] == [1]
    assert gateway.send("readings", [records[0], records[3]], after=0).json["acked"] == 4


def test_text_a_database_cannot_store_is_rejected_by_seq_not_a_server_error(
    app: Flask, gateway: Gateway
) -> None:
    """A lone surrogate (from a JSON escape) anywhere, or a NUL in a text column: a 422 naming the record."""
    events = [event(seq) for seq in range(1, 6)]
    events[0]["data"] = {"boot": 12, "q": 349, "msg": "sonar: \ud800 no echo"}
    events[1]["kind"] = "error\x00"
    events[2]["data"] = {"msg": "a NUL inside JSON text travels escaped: \x00", "ok": "jarak_sensör"}
    events[3]["data"] = {"list": ["ok", {"k\udfff": 1}]}
    response = gateway.send("events", events)
    assert response.status_code == 422, response.json
    assert response.json["rejected"] == [
        {"seq": 1, "reason": "'data'.'msg' holds text that cannot be encoded as UTF-8 (a lone surrogate)"},
        {"seq": 2, "reason": "'kind' holds a NUL character, which a text column cannot store"},
        {"seq": 4, "reason": "'data'.'list'[1].'k\\udfff' holds text that cannot be encoded as UTF-8 (a lone surrogate)"},
    ]  # fmt: skip
    assert gateway.send("events", [events[2], events[4]], after=0).json["acked"] == 5
    with central_of(app).engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT seq, data FROM events ORDER BY seq").all()
    assert [(seq, json.loads(data)) for seq, data in stored] == [
        (3, events[2]["data"]),
        (5, events[4]["data"]),
    ]

    subs = [submission(1, "DMK-WONOSALAM-261128-00010"), submission(2, "DMK-WONOSALAM-261128-00029")]
    subs[0]["personal"] = {"name": "Siti \udc80"}
    response = gateway.send("submissions", subs)
    assert response.status_code == 422, response.json
    assert [r["seq"] for r in response.json["rejected"]] == [1]
    assert "'personal'.'name'" in response.json["rejected"][0]["reason"]
