"""The kiosk web app (Flask app factory)."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template_string

from gateway.store import Store

_HOME = """<!doctype html><html lang="id"><head><meta charset="utf-8"><title>{{ name }}</title></head>
<body><h1>{{ name }}</h1><p>Anjungan Informasi Publik</p>
<ul>{% for a in announcements %}<li>{{ a.title }}</li>{% endfor %}</ul>
<p>{{ readings }} bacaan sensor tersimpan.</p></body></html>"""


def create_app(cfg: Any) -> Flask:
    app = Flask(__name__)
    app.config["ANJUNGAN"] = cfg
    store = Store.from_config(cfg)
    app.extensions["anjungan_store"] = store

    @app.get("/")
    def home() -> str:
        count = store.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        return render_template_string(
            _HOME, name=cfg.gateway.name, announcements=store.content("announcement"), readings=count
        )

    return app
