"""Open311 GeoReport v2 read side at the central, proven with the `georeport` client from PyPI and against
the spec's field lists (GeoReport v2: "GET Service List", "GET Service Requests", "GET Service Request")."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from georeport import GeoReport

from sync.central import service
from tests.central.conftest import Gateway, central_of
from tests.opendata.conftest import AT_MS, complaint

# The field lists of the GeoReport v2 specification (wiki.open311.org/GeoReport_v2), written out here on
# purpose rather than imported from the code under test.
SPEC_SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
SPEC_REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]  # fmt: skip
DAY_MS = 86_400_000


def uuid(seq: int) -> str:
    return complaint(seq)["uuid"]


@pytest.fixture
def complaints(gateway: Gateway) -> Gateway:
    """Seven submissions: 1 named complaint, 2 rahasia, 3 anonymous, 4 a request, 5 an objection,
    6 a named 'sampah' complaint a day later, 7 a complaint 100 days earlier."""
    records = [
        complaint(1),
        complaint(2, rahasia=True),
        complaint(3, anonim=True, at_ms=AT_MS + 60_000),
        complaint(4, kind="request"),
        complaint(5, kind="objection"),
        complaint(6, kategori="sampah", at_ms=AT_MS + DAY_MS),
        complaint(7, at_ms=AT_MS - 100 * DAY_MS),
    ]
    assert gateway.send("submissions", records).json["acked"] == 7
    return gateway


def test_the_georeport_client_reads_services_in_json_and_xml(live: str) -> None:
    for fmt in ("json", "xml"):
        found = GeoReport(live + "/open311/v2", output_format=fmt).get_service_list()
        assert len(found) == 12
        assert all(list(s) == SPEC_SERVICE_FIELDS for s in found), found[0]
        road = next(s for s in found if s["service_code"] == "jalan-rusak")
        assert road["service_name"] == "Jalan rusak" and str(road["metadata"]).lower() == "false"
        assert road["type"] == "batch"


def test_every_published_complaint_has_exactly_the_spec_fields_and_no_identity(
    complaints: Gateway, live: str
) -> None:
    client = GeoReport(live + "/open311/v2")
    found = client.get_service_requests(
        start_date="2026-11-01T00:00:00+07:00", end_date="2026-12-01T00:00:00+07:00"
    )
    # complaints only, not rahasia; the request (4) and objection (5) are not complaints; 7 is out of range
    assert [r["service_request_id"] for r in found] == [uuid(6), uuid(3), uuid(1)]
    assert all(list(r) == SPEC_REQUEST_FIELDS for r in found)
    first = found[-1]
    assert first["status"] == "open" and first["service_code"] == "jalan-rusak"
    assert first["description"] == "Laporan 1\n\nIsi laporan nomor 1 di RT 02."
    assert first["address"] == "Jalan Raya Wonosalam km 3"
    assert first["requested_datetime"] == "2026-11-23T23:00:00+07:00"
    assert first["expected_datetime"] == "2026-12-08T23:59:59+07:00"
    for fmt in ("json", "xml"):
        body = requests.get(f"{live}/open311/v2/requests.{fmt}", timeout=30).text
        for private in ("Warga", "33210101010", "0812", "DMK-WONOSALAM", "anonim", "rahasia", "Laporan 2"):
            assert private not in body, (fmt, private)


def test_xml_answers_parse_and_hold_the_same_requests(complaints: Gateway, live: str) -> None:
    complaints.clock.now += 2 * 86_400  # by default the last 90 days up to now: all three
    json_rows = GeoReport(live + "/open311/v2").get_service_requests()
    xml_rows = GeoReport(live + "/open311/v2", output_format="xml").get_service_requests()
    assert [r["service_request_id"] for r in xml_rows] == [r["service_request_id"] for r in json_rows]
    assert all(list(r) == SPEC_REQUEST_FIELDS for r in xml_rows)
    assert xml_rows[0]["service_name"] == "Sampah" and xml_rows[0]["lat"] is None
    root = ET.fromstring(requests.get(f"{live}/open311/v2/requests.xml", timeout=30).content)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"] * 3


def test_one_request_by_id_and_never_an_unpublished_one(complaints: Gateway, live: str) -> None:
    for fmt in ("json", "xml"):
        one = GeoReport(live + "/open311/v2", output_format=fmt).get_service_request(uuid(3))
        assert one["service_request_id"] == uuid(3) and list(one) == SPEC_REQUEST_FIELDS
    assert isinstance(requests.get(f"{live}/open311/v2/requests/{uuid(1)}.json", timeout=30).json(), list)
    for hidden in (uuid(2), uuid(4), uuid(5), "nope"):  # rahasia, a request, an objection, unknown
        answer = requests.get(f"{live}/open311/v2/requests/{hidden}.json", timeout=30)
        assert answer.status_code == 404 and answer.json()[0]["code"] == 404
        xml = requests.get(f"{live}/open311/v2/requests/{hidden}.xml", timeout=30)
        assert xml.status_code == 404 and ET.fromstring(xml.content).tag == "errors"
        with pytest.raises(requests.HTTPError):
            GeoReport(live + "/open311/v2").get_service_request(hidden)


def test_filters_of_the_spec(complaints: Gateway, live: str) -> None:
    complaints.clock.now += 2 * 86_400
    client = GeoReport(live + "/open311/v2")
    state = central_of(complaints.client.application)
    service.set_submission_status(
        state.engine,
        complaints.id,
        complaint(1)["number"],
        "answered",
        answer="Sudah diperbaiki oleh Pak Budi",
    )

    def ids(**filters: str) -> list[str]:
        return [r["service_request_id"] for r in client.get_service_requests(**filters)]

    assert ids(service_code="sampah") == [uuid(6)]
    assert ids(service_code="sampah,jalan-rusak") == [uuid(6), uuid(3), uuid(1)]
    assert ids(status="closed") == [uuid(1)]
    assert ids(status="open") == [uuid(6), uuid(3)]
    assert ids(start_date="2026-11-24T00:00:00+07:00") == [uuid(6)]
    assert ids(end_date="2026-11-24T00:00:00+07:00") == [uuid(3), uuid(1)]
    old = "2026-08-01T00:00:00Z", "2026-08-30T00:00:00Z"
    assert ids(start_date=old[0], end_date=old[1]) == [uuid(7)]
    # service_request_id overrides every other filter; unpublished ids are simply absent
    assert ids(service_request_id=f"{uuid(7)},{uuid(2)},{uuid(1)}", service_code="sampah") == [
        uuid(1),
        uuid(7),
    ]
    closed = client.get_service_request(uuid(1))
    assert closed["status"] == "closed" and closed["status_notes"] == "Sudah ditanggapi"
    assert "Budi" not in json.dumps(closed)  # the officer's answer is for the citizen, not for publication
    assert closed["updated_datetime"] >= closed["requested_datetime"]


@pytest.mark.parametrize(
    "query",
    ["start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "status=pending", "start_date=yesterday",
     "start_date=2026-11-10T00:00:00Z&end_date=2026-11-01T00:00:00Z"],
)  # fmt: skip
def test_bad_filters_are_answered_400_with_the_spec_errors(
    complaints: Gateway, live: str, query: str
) -> None:
    answer = requests.get(f"{live}/open311/v2/requests.json?{query}", timeout=30)
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["code"] == 400 and error["description"]
    xml = requests.get(f"{live}/open311/v2/requests.xml?{query}", timeout=30)
    assert xml.status_code == 400 and ET.fromstring(xml.content).find("error/code").text == "400"


def test_an_officer_withholds_a_complaint_with_a_reason_and_it_is_audited(
    complaints: Gateway, live: str, run_cli
) -> None:
    client = GeoReport(live + "/open311/v2")
    refused = run_cli("open311-hide", uuid(1), "--by", "ppid-budi")
    assert refused.exit_code == 2 and "--reason" in refused.output
    done = run_cli(
        "open311-hide", complaint(1)["number"], "--reason", "Menyebut nama orang", "--by", "ppid-budi"
    )
    assert done.exit_code == 0, done.output
    assert uuid(1) not in [r["service_request_id"] for r in client.get_service_requests()]
    assert requests.get(f"{live}/open311/v2/requests/{uuid(1)}.json", timeout=30).status_code == 404
    listed = [json.loads(line) for line in run_cli("open311-withheld").output.splitlines()]
    assert [(w["uuid"], w["reason"], w["hidden_by"]) for w in listed] == [
        (uuid(1), "Menyebut nama orang", "ppid-budi")
    ]
    assert (
        run_cli("open311-hide", uuid(4), "--reason", "x", "--by", "admin-ani").exit_code == 1
    )  # not a complaint
    shown = run_cli("open311-show", uuid(1), "--reason", "Nama sudah dihapus dari isi", "--by", "ppid-ani")
    assert shown.exit_code == 0, shown.output
    assert uuid(1) in [r["service_request_id"] for r in client.get_service_requests()]
    trail = [json.loads(line) for line in run_cli("opendata-audit").output.splitlines()]
    assert [(t["action"], t["actor"], t["target"], t["detail"]["reason"]) for t in trail] == [
        ("open311-show", "ppid-ani", uuid(1), "Nama sudah dihapus dari isi"),
        ("open311-hide", "ppid-budi", uuid(1), "Menyebut nama orang"),
    ]


def test_a_complaint_appears_once_the_central_has_it(gateway: Gateway, live: str) -> None:
    client = GeoReport(live + "/open311/v2")
    assert client.get_service_requests() == []
    assert gateway.send("submissions", [complaint(1)]).json["acked"] == 1
    assert [r["service_request_id"] for r in client.get_service_requests()] == [uuid(1)]
    assert gateway.send("submissions", [complaint(1)]).json["acked"] == 1  # sent twice: still once
    assert len(client.get_service_requests()) == 1
