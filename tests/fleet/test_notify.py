"""Notifications of alerts by e-mail (a real SMTP server, aiosmtpd, on a free port) and by a signed webhook (a
local HTTP receiver), with de-duplication and a quiet period: a flapping kiosk sends one message, not hundreds."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from sync.central.fleet import alerts
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import notifications
from tests.central.conftest import Clock, Gateway, central_of
from tests.fixtures.mosquitto import free_port
from tests.fleet.test_alerts import contact

SECRET = "rahasia-webhook"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Receiver(ThreadingHTTPServer):
    posts: list[tuple[dict[str, str], bytes]]
    status = 200


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((dict(self.headers), body))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def settings(smtp_port: int, hook: Receiver, **overrides: Any) -> FleetSettings:
    return FleetSettings(smtp_host="127.0.0.1", smtp_port=smtp_port, mail_to="teknisi@demak.go.id, kominfo@demak.go.id",
                         mail_from="anjungan@demak.go.id", webhook_url=f"http://127.0.0.1:{hook.server_port}/hook",
                         webhook_secret=SECRET, **overrides)  # fmt: skip


def test_an_alert_is_told_by_mail_and_signed_webhook(
    app: Flask, gateway: Gateway, clock: Clock, smtp, webhook
) -> None:
    box, port = smtp
    cfg = settings(port, webhook)
    t0 = clock.now
    contact(gateway, clock, t0)
    report = alerts.run(central_of(app).engine, int((t0 + 200) * 1000), cfg)
    assert [(d.channel, d.event, d.error) for d in report.sent] == [
        ("email", "opened", None),
        ("webhook", "opened", None),
    ]
    (mail,) = box.messages
    assert mail["Subject"] == f"[anjungan] Peringatan: Anjungan {gateway.id} tidak menghubungi pusat"
    assert mail["To"] == "teknisi@demak.go.id, kominfo@demak.go.id"
    text = mail.get_payload()
    assert "Status: TERBUKA" in text and f"Kiosk {gateway.id} has not contacted the central" in text
    ((headers, body),) = webhook.posts
    stamp = headers["X-Anjungan-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}\n".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Anjungan-Signature"] == expected and stamp == str(int(t0 + 200))
    doc = json.loads(body)
    assert (
        doc["event"] == "opened"
        and doc["alert"]["kind"] == "kiosk-silent"
        and doc["alert"]["gateway"] == gateway.id
    )
    # nothing new: nothing sent again
    assert alerts.run(central_of(app).engine, int((t0 + 260) * 1000), cfg).sent == []
    assert len(box.messages) == 1 and len(webhook.posts) == 1


def test_a_flapping_kiosk_sends_one_message_and_the_last_state_after_the_quiet_period(
    app: Flask, gateway: Gateway, clock: Clock, smtp, webhook
) -> None:
    box, port = smtp
    cfg = settings(port, webhook, quiet_s=3600)
    engine = central_of(app).engine
    t = clock.now
    for _ in range(15):  # silent, back, silent, back ... within the hour
        contact(gateway, clock, t)
        alerts.run(engine, int((t + 1) * 1000), cfg)  # resolves the previous silence
        alerts.run(engine, int((t + 200) * 1000), cfg)  # opens a new one
        t += 210
    contact(gateway, clock, t)
    alerts.run(engine, int((t + 1) * 1000), cfg)
    with engine.connect() as conn:
        assert alerts.counts(conn)["resolved"] == 15
    assert len(box.messages) == 1 and len(webhook.posts) == 1  # one opening, the rest kept quiet
    later = clock.now + 3700
    contact(gateway, clock, later)
    alerts.run(engine, int(later * 1000), cfg)
    assert len(box.messages) == 2 and box.messages[1]["Subject"].startswith("[anjungan] Selesai:")
    assert json.loads(webhook.posts[1][1])["event"] == "resolved"


def test_a_failed_delivery_is_recorded_and_tried_again(
    app: Flask, gateway: Gateway, clock: Clock, smtp, webhook
) -> None:
    box, port = smtp
    cfg = settings(port, webhook)
    engine = central_of(app).engine
    webhook.status = 503
    contact(gateway, clock, clock.now)
    first = alerts.run(engine, int((clock.now + 200) * 1000), cfg)
    assert [d.error for d in first.sent] == [None, "WebhookRefused: HTTP 503"]
    webhook.status = 200
    second = alerts.run(engine, int((clock.now + 260) * 1000), cfg)
    assert [(d.channel, d.error) for d in second.sent] == [("webhook", None)]
    assert len(webhook.posts) == 2 and len(box.messages) == 1
    assert alerts.run(engine, int((clock.now + 320) * 1000), cfg).sent == []
    with engine.connect() as conn:
        rows = conn.execute(notifications.select().order_by(notifications.c.id)).mappings().all()
    assert [(r["channel"], r["error"] is None) for r in rows] == [("email", True), ("webhook", False), ("webhook", True)]  # fmt: skip
