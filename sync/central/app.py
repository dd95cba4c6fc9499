"""The central's Flask application: the sync API under /api/v1 and a one-page fleet overview at /."""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.engine import Engine, make_url
from werkzeug.exceptions import HTTPException

from gateway.errors import AnjunganError
from sync import protocol
from sync.central import db, sealing, service

DEFAULT_DB = "sqlite:///./central.db"
DB_ENV = "ANJUNGAN_CENTRAL_DB"
FILES_ENV = "ANJUNGAN_CENTRAL_FILES"
KEY_FILE_ENV = "ANJUNGAN_CENTRAL_KEY_FILE"
MAX_BODY = 16 << 20  # bytes of one request body as sent
MAX_INFLATED = 64 << 20  # bytes of one batch once gunzipped


@dataclass
class Central:
    """What the views share: the engine, the master key, where files live, limits and the clock."""

    engine: Engine
    master_key: bytes
    files_dir: Path
    max_inflated: int = MAX_INFLATED
    clock: Callable[[], float] = time.time
    _secrets: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def secret(self, gateway_id: str) -> str | None:
        with self._lock:
            cached = self._secrets.get(gateway_id)
        if cached is None:
            cached = service.gateway_secret(self.engine, self.master_key, gateway_id)
            if cached is not None:
                with self._lock:
                    self._secrets[gateway_id] = cached
        return cached


def central() -> Central:
    return current_app.extensions["anjungan.central"]


def default_paths(db_url: str) -> tuple[Path, Path]:
    """The files directory and master key file: beside a SQLite database file, else in the working directory."""
    url = make_url(db.normalise_url(db_url))
    base = Path(".")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        base = Path(url.database).parent
    return base / "central-files", base / "central.key"


def open_central(
    db_url: str,
    *,
    files_dir: Path | None = None,
    key_file: Path | None = None,
    migrate: bool = True,
    engine_options: dict[str, Any] | None = None,
) -> Central:
    """Connect to (and migrate) the database and load the master key."""
    default_files, default_key = default_paths(db_url)
    files_dir = files_dir or Path(os.environ.get(FILES_ENV) or default_files)
    key_file = key_file or Path(os.environ.get(KEY_FILE_ENV) or default_key)
    engine = db.make_engine(db_url, **(engine_options or {}))
    if migrate:
        db.migrate(engine)
    return Central(engine=engine, master_key=sealing.load_master_key(key_file), files_dir=files_dir)


def create_app(
    db_url: str | None = None,
    *,
    files_dir: Path | None = None,
    key_file: Path | None = None,
    max_body: int = MAX_BODY,
    max_inflated: int = MAX_INFLATED,
    clock: Callable[[], float] = time.time,
    engine_options: dict[str, Any] | None = None,
) -> Flask:
    """The central as a WSGI app; the database is migrated to the newest schema before it answers."""
    from sync.central import lookup, opendata
    from sync.central.api import api

    state = open_central(
        db_url or os.environ.get(DB_ENV) or DEFAULT_DB,
        files_dir=files_dir,
        key_file=key_file,
        engine_options=engine_options,
    )
    state.max_inflated, state.clock = max_inflated, clock
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=max_body, JSON_SORT_KEYS=False)
    app.extensions["anjungan.central"] = state
    app.register_blueprint(api, url_prefix=protocol.API_PREFIX)
    lookup.init_app(app)
    opendata.init_app(app, state.engine)
    app.register_error_handler(AnjunganError, _anjungan_error)
    app.register_error_handler(HTTPException, _http_error)
    app.add_url_rule("/", "index", index)
    return app


def _anjungan_error(err: AnjunganError) -> tuple[Response, int]:
    if isinstance(err, service.RecordsRejected):
        body = {"error": "rejected records", "stream": err.stream, "rejected": err.rejected}
        return jsonify(body), 422
    if isinstance(err, protocol.SkewError):
        return jsonify({"error": err.error, "detail": str(err), "server_time": err.server_time}), 401
    if isinstance(err, protocol.SignatureError):
        return jsonify({"error": err.error, "detail": str(err)}), 401
    if isinstance(err, protocol.BodyTooLargeError):
        return jsonify({"error": "too large", "detail": str(err)}), 413
    if isinstance(err, protocol.ProtocolError | service.CentralError):
        return jsonify({"error": "malformed", "detail": str(err)}), 400
    current_app.logger.error("unexpected error: %s", err)
    return jsonify({"error": "internal", "detail": str(err)}), 500


def _http_error(err: HTTPException) -> tuple[Response, int]:
    code = err.code or 500
    names = {413: "too large", 404: "not found", 405: "method not allowed", 416: "range not satisfiable"}
    return jsonify({"error": names.get(code, (err.name or "error").lower()), "detail": err.description}), code


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>anjungan central</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}</style></head>
<body><h1>anjungan central</h1><p>{count} gateway(s)</p>
<table><thead><tr><th>Gateway</th><th>Name</th><th>Last contact (UTC)</th><th>Last batch (UTC)</th>
{stream_heads}</tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""


def _backlog_text(backlog: dict[str, int] | None, at: str | None) -> str:
    if backlog is None:
        return "not reported"
    waiting = ", ".join(f"{stream} {backlog.get(stream, 0)}" for stream in protocol.STREAMS)
    return f"{waiting} (at {at})"


def index() -> Response:
    """The fleet at a glance: each gateway's last contact and acked seq per stream."""
    gateways = service.overview(central().engine)
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(cell))}</td>"
            for cell in (
                g["gateway_id"],
                g["name"],
                g["last_seen"] or "never",
                g["last_batch"] or "never",
                *(g["acked"][s] for s in protocol.STREAMS),
                _backlog_text(g["backlog"], g["backlog_at"]),
            )
        )
        + "</tr>"
        for g in gateways
    )
    heads = (
        "".join(f"<th>{s} acked</th>" for s in protocol.STREAMS) + "<th>Backlog (still at the gateway)</th>"
    )
    page = _PAGE.format(count=len(gateways), stream_heads=heads, rows=rows)
    return Response(page, mimetype="text/html")
