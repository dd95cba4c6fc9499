"""The kiosk's pages read the store on a read-only connection, which cannot change it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from flask import Flask

from gateway.store import Store


def test_the_kiosk_reader_cannot_write(app: Flask) -> None:
    store: Store = app.extensions["anjungan_store"]
    reader = store.reader
    assert reader.execute("PRAGMA query_only").fetchone()[0] == 1
    for statement in (
        "INSERT INTO meta (key, value) VALUES ('x', 'y')",
        "DELETE FROM submissions",
        "UPDATE sync_state SET acked = 0",
        "CREATE TABLE scratch (x)",
    ):
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
            reader.execute(statement)
    assert reader.execute("SELECT count(*) FROM meta WHERE key = 'x'").fetchone()[0] == 0
    reader.execute("PRAGMA query_only = OFF")  # even with query_only lifted, the file is opened read-only
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")


def test_the_conditions_page_reads_on_the_reader_and_sees_new_readings(
    app: Flask, feed: Callable[..., None]
) -> None:
    store: Store = app.extensions["anjungan_store"]
    on_reader: list[str] = []
    on_writer: list[str] = []
    store.reader.set_trace_callback(
        on_reader.append
    )  # the test client serves in this thread: its connections
    store.conn.set_trace_callback(on_writer.append)
    feed("dmk-wl-01", {"water_cm": 131.5}, history_hours=1)
    page = app.test_client().get("/kondisi").get_data(as_text=True)
    assert "132" in page
    chart = app.test_client().get("/kondisi/grafik/dmk-wl-01/water_cm/24j.svg")
    assert chart.status_code == 200
    assert any("FROM latest" in sql for sql in on_reader)
    assert any("FROM series" in sql for sql in on_reader)
    assert not any("FROM latest" in sql or "FROM series" in sql for sql in on_writer)


def test_the_public_pages_read_only_on_the_reader(app: Flask, feed: Callable[..., None]) -> None:
    """Every public page a citizen opens reads on the read-only connection: no SELECT of a GET runs on the
    store's writable connections (a read there would hold the write lock's snapshot and could, by mistake,
    write)."""
    from tests.kiosk.helpers import number_on, post, request_data

    store: Store = app.extensions["anjungan_store"]
    client = app.test_client()
    feed("dmk-wl-01", {"water_cm": 131.5}, history_hours=1)
    number = number_on(post(client, "/permohonan", request_data()))
    on_writers: list[str] = []
    store.conn.set_trace_callback(on_writers.append)
    store.durable_conn.set_trace_callback(on_writers.append)
    paths = ["/", "/informasi", "/informasi/berkala", "/kondisi", "/pengumuman", "/api/alerts", "/status",
             f"/tanda-terima/{number}", f"/status/{number}", "/kondisi/grafik/dmk-wl-01/water_cm/24j.svg"]  # fmt: skip
    answered = {path: client.get(path).status_code for path in paths}
    assert set(answered.values()) == {200}, answered
    reads = [sql for sql in on_writers if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert reads == []
