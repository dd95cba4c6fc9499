"""A small stand-in for the central, used by the sync tests while the real one is not on this branch.

It keeps the contract of DESIGN.md (signatures and skew, batches with ``after``, 422 with ``rejected``,
changes by cursor, files with Range) on a SQLite file, and nothing more.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from sync import protocol

REJECT_KIND = ""  # an event with an empty kind is refused (422) like any record the protocol finds bad


class StandinCentral:
    def __init__(self, path: str):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS gateways (id TEXT PRIMARY KEY, secret TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS records (gateway TEXT, stream TEXT, seq INTEGER, record TEXT,"
            " PRIMARY KEY (gateway, stream, seq));"
            "CREATE TABLE IF NOT EXISTS acks (gateway TEXT, stream TEXT, acked INTEGER,"
            " PRIMARY KEY (gateway, stream));"
            "CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, gateway TEXT,"
            " kind TEXT, id TEXT, op TEXT, data TEXT);"
        )
        self.files: dict[str, bytes] = {}
        self.skew_s = 0.0
        self.page_size = 50
        self.app = self._make_app()

    # -- back office -----------------------------------------------------------------------------------------
    def add_gateway(self, name: str) -> dict[str, str]:
        secret = hashlib.sha256(name.encode()).hexdigest()
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO gateways VALUES (?, ?)", (name, secret))
        return {"gateway_id": name, "secret": secret}

    def publish(self, gateway: str, kind: str, key: str, data: dict[str, Any], op: str = "upsert") -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO changes (gateway, kind, id, op, data) VALUES (?, ?, ?, ?, ?)",
                (gateway, kind, key, op, json.dumps(data)),
            )

    def put_file(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.files[sha] = data
        return sha

    def seqs(self, gateway: str, stream: str) -> list[int]:
        with self.lock:
            rows = self.db.execute(
                "SELECT seq FROM records WHERE gateway = ? AND stream = ? ORDER BY seq", (gateway, stream)
            ).fetchall()
        return [r[0] for r in rows]

    def records(self, gateway: str, stream: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT record FROM records WHERE gateway = ? AND stream = ? ORDER BY seq", (gateway, stream)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- the API ---------------------------------------------------------------------------------------------
    def _make_app(self) -> Flask:
        app = Flask("standin-central")

        @app.get("/api/v1/time")
        def time_view() -> Any:
            return jsonify(time=time.time() + self.skew_s)

        @app.post("/api/v1/batches")
        def batches() -> Any:
            gateway = self._auth()
            if isinstance(gateway, Response):
                return gateway
            try:
                batch = protocol.decode_batch(request.get_data(), dict(request.headers))
            except protocol.ProtocolError as err:
                return jsonify(error=str(err)), err.status
            stream, records, after = batch.stream, batch.records, batch.after
            problems = [(r["seq"], protocol.record_problem(stream, r)) for r in records]
            rejected = [{"seq": seq, "reason": reason} for seq, reason in problems if reason]
            if rejected:
                return jsonify(error="records rejected", rejected=rejected), 422
            return jsonify(stream=stream, acked=self._store(gateway, stream, records, after))

        @app.get("/api/v1/changes")
        def changes() -> Any:
            gateway = self._auth()
            if isinstance(gateway, Response):
                return gateway
            since = int(request.args.get("since") or 0)
            with self.lock:
                rows = self.db.execute(
                    "SELECT seq, kind, id, op, data FROM changes WHERE gateway = ? AND seq > ? ORDER BY seq "
                    "LIMIT ?",
                    (gateway, since, self.page_size),
                ).fetchall()
            cursor = rows[-1][0] if rows else since
            out = [{"kind": k, "id": i, "op": o, "data": json.loads(d)} for _s, k, i, o, d in rows]
            return jsonify(cursor=str(cursor), changes=out)

        @app.get("/api/v1/files/<sha>")
        def files(sha: str) -> Any:
            gateway = self._auth()
            if isinstance(gateway, Response):
                return gateway
            data = self.files.get(sha)
            if data is None:
                return jsonify(error="no such file"), 404
            start = 0
            rng = request.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    return Response(status=416)
                return Response(
                    data[start:], 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                )
            return Response(data, 200, {"Accept-Ranges": "bytes"})

        return app

    def _auth(self) -> str | Response:
        gateway = request.headers.get(protocol.HEADER_GATEWAY, "")
        with self.lock:
            row = self.db.execute("SELECT secret FROM gateways WHERE id = ?", (gateway,)).fetchone()
        if row is None:
            return Response(json.dumps({"error": "bad signature"}), 401, mimetype="application/json")
        now = time.time() + self.skew_s
        try:
            protocol.verify(row[0], request.headers, request.method, request.full_path.rstrip("?"),
                            request.get_data(), now)  # fmt: skip
        except protocol.SkewError:
            body = {"error": "clock skew", "server_time": now}
            return Response(json.dumps(body), 401, mimetype="application/json")
        except protocol.SignatureError:
            return Response(json.dumps({"error": "bad signature"}), 401, mimetype="application/json")
        return gateway

    def _store(self, gateway: str, stream: str, records: list[dict[str, Any]], after: int | None) -> int:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)",
                [(gateway, stream, r["seq"], json.dumps(r)) for r in records],
            )
            row = self.db.execute(
                "SELECT acked FROM acks WHERE gateway = ? AND stream = ?", (gateway, stream)
            ).fetchone()
            acked = row[0] if row else 0
            have = {r[0] for r in self.db.execute(
                "SELECT seq FROM records WHERE gateway = ? AND stream = ? AND seq > ?", (gateway, stream, acked))}  # fmt: skip
            top = max((r["seq"] for r in records), default=acked)
            gone_from = after if after is not None else top
            while acked + 1 in have or (gone_from <= acked < top):
                acked += 1
            self.db.execute("INSERT OR REPLACE INTO acks VALUES (?, ?, ?)", (gateway, stream, acked))
            self.db.execute("COMMIT")
        return acked
