"""Downlink: the changes cursor page by page, statuses and configuration, resumable verified file downloads."""

from __future__ import annotations

import json
import os
import time

import pytest

from gateway.store import files
from sync.client import TransientError, downlink
from sync.client.transport import CentralLink
from tests.central.officers import http_login
from tests.fixtures.faultproxy import Fault, fault_proxy
from tests.fixtures.wsgi import LiveServer
from tests.sync.conftest import fill


def test_changes_applied_page_by_page_and_twice_is_harmless(store, central, make_client):
    for i in range(1100):  # the central pages by 500
        central.publish("announcement", f"a{i:04d}", {"title": f"Pengumuman {i}"})
    client = make_client()
    assert client.run_once().changes == 1100
    assert store.get_meta("changes_cursor") == "c-001100"
    assert len(store.content("announcement")) == 1100
    store.set_meta("changes_cursor", None)  # as if the cursor were lost: everything comes again
    assert client.run_once().changes == 1100
    assert len(store.content("announcement")) == 1100
    assert client.run_once().changes == 0


def test_delete_status_and_config_changes(store, central, make_client):
    fill(store, submissions=1)
    number = store.conn.execute("SELECT number FROM submissions").fetchone()[0]
    central.publish("dip", "d1", {"title": "Daftar", "category": "berkala"})
    central.publish("dip", "d1", {}, op="delete")
    central.publish(
        "submission", number, {"status": "answered", "answer": "Terlampir", "answered_at": "2030-01-02"}
    )
    central.publish("config", "sync.interval_s", {"value": 30})
    make_client().run_once()
    assert store.content("dip") == []
    assert store.submission(number)["status"] == "answered"
    assert store.config_overrides() == {"sync": {"interval_s": 30}}


def publish_document(central, data: bytes) -> str:
    sha = central.put_file(data)
    central.publish("document", "doc-1", {"title": "APBDes 2030", "sha256": sha, "size": len(data)})
    return sha


def retry_delay_passed(store) -> None:
    """As if each failed file's own retry delay had passed (its last failure an hour earlier)."""
    store.conn.execute("UPDATE files SET updated_at = updated_at - 3600000 WHERE fetched_at IS NULL")


def test_cut_download_resumes_with_range_and_verifies(store, central, make_client):
    data = os.urandom(300_000)
    sha = publish_document(central, data)
    with fault_proxy((central.host, central.port)) as proxy:
        proxy.add(Fault("cut", match="/files/", body_bytes=120_000))
        client = make_client(url=proxy.url)
        assert client.run_once(attempts=1).files == 0  # a cut file does not fail the round
        target = files.file_path(client.settings.data_dir, sha)
        part = target.with_name(target.name + ".part")
        assert part.stat().st_size == 120_000 and not target.exists()
        assert store.files_summary()["missing"] == 1
        assert "cut after" in store.files_failing()[0]["last_error"]
        assert client.run_once().files == 0  # its own retry delay has not passed
        retry_delay_passed(store)
        assert client.run_once().files == 1
        ranges = [r.headers.get("range") for r in proxy.requests if "/files/" in r.target]
    assert ranges == [None, "bytes=120000-"]
    assert target.read_bytes() == data and not part.exists()
    assert store.file_fetched(sha) and store.files_summary()["missing"] == 0


def test_mismatching_bytes_are_discarded_and_fetched_again(store, central, make_client):
    data = b"the real document " * 1000
    sha = publish_document(central, data)
    stored = central.stored_file(sha)
    stored.write_bytes(b"something else " * 1000)
    client = make_client()
    client.run_once()
    target = files.file_path(client.settings.data_dir, sha)
    assert not target.exists() and not target.with_name(target.name + ".part").exists()
    assert "discarded" in store.files_summary()["last_error"]
    stored.write_bytes(data)
    retry_delay_passed(store)
    assert client.run_once().files == 1
    assert target.read_bytes() == data


def test_the_gateway_reports_its_backlog_to_the_overview(store, central, make_client):
    import requests

    from sync.central import service
    from sync.client import downlink

    fill(store, events=3, submissions=2)
    client = make_client()
    downlink.pull_changes(store, client.central)  # before any upload: everything still waits
    (row,) = [g for g in service.overview(central.state.engine) if g["gateway_id"] == central.gateway_id]
    assert row["backlog"] == {"submissions": 2, "events": 3, "ratings": 0, "readings": 0}
    client.round()
    (row,) = [g for g in service.overview(central.state.engine) if g["gateway_id"] == central.gateway_id]
    assert row["backlog"] == {"submissions": 0, "events": 0, "ratings": 0, "readings": 0}
    with requests.Session() as session:
        http_login(session, central.url, central.app, "teknisi1", "teknisi")
        page = session.get(central.url + "/armada", timeout=10).text
    assert "pengajuan 0, peristiwa 0, penilaian SKM 0, bacaan 0" in page


def test_the_files_folder_is_private_whatever_the_umask(store, central, make_client, gateway_config):
    """``data/files`` was made 0755 under the usual umask 022: now 0700 (docs/sync.md, "Downlink")."""
    data = b"%PDF-1.4 dokumen privat"
    sha = central.put_file(data)
    central.publish("document", "doc-1", {"title": "APBDes 2030", "sha256": sha, "size": len(data)})
    folder = gateway_config.parent / "data" / "files"
    assert not folder.exists()
    previous = os.umask(0o022)
    try:
        assert make_client().run_once().files == 1
    finally:
        os.umask(previous)
    assert (folder / sha).read_bytes() == data
    assert f"{os.stat(folder).st_mode & 0o777:04o}" == "0700"


def stuck_central(environ, start_response):
    """A faulty central: whatever the cursor asked for, the same non-empty page and the same cursor back."""
    from urllib.parse import parse_qs

    since = parse_qs(environ.get("QUERY_STRING", "")).get("since", [""])[0] or "c-000001"
    page = {"changes": [{"kind": "announcement", "id": "a1", "op": "upsert", "data": {"title": "x"}}],
            "cursor": since}  # fmt: skip
    body = json.dumps(page).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    requests.append(environ["PATH_INFO"])
    return [body]


requests: list[str] = []


def test_a_page_whose_cursor_does_not_move_stops_the_round_with_an_error(store):
    """Before: 10,000 requests (> 400 s) and a success; now the second request finds the cursor stuck."""
    requests.clear()
    with LiveServer(stuck_central) as server:
        central = CentralLink(server.url, "gw", "secret", now=time.time, timeout_s=10)
        try:
            with pytest.raises(TransientError, match="without moving the cursor"):
                downlink.pull_changes(store, central)
        finally:
            central.close()
    assert len(requests) == 2  # the first page moved the cursor from "" on; the second did not
    assert store.get_meta("changes_cursor") == "c-000001"
    assert store.get_meta("downlink_last_success") is None
    assert downlink.MAX_PAGES <= 1000
