"""Notifications of alerts: e-mail (SMTP) and a signed webhook (JSON POST), with de-duplication and a quiet
period.

- An alert's opening is told once (``notified_ms``), and its resolution once (``closed_notified_ms``), on
  every configured channel. A delivery that fails is recorded and tried again on the next evaluation.
- Quiet period (``quiet_s``): after a notification about a condition (its key), nothing more is told about it
  until the period is over; an opening in the period is marked told without a message, and a resolution waits
  for the end of the period and is told then only when the condition has not come back. So a node that flaps
  a hundred times in an hour sends one message, and the last state is told when the hour is over.
- The webhook's body is ``{"event": "opened"|"resolved", "alert": {...}}``; its headers carry
  ``X-Anjungan-Timestamp`` (unix seconds) and ``X-Anjungan-Signature``: lowercase hex HMAC-SHA256 with the
  ``webhook_secret`` of ``"<timestamp>\\n"`` + body (the body exactly as sent), as the sync API signs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.central.fleet import texts
from sync.central.fleet.settings import FleetSettings
from sync.central.fleet.tables import alerts, notifications

TIMEOUT_S = 10.0


@dataclass
class Delivery:
    """One message on one channel: which alert, which event, and the error (None: delivered)."""

    alert_id: int
    channel: str
    event: str
    error: str | None


def channels(cfg: FleetSettings) -> list[str]:
    """The configured channels (``email`` when a host and recipients are set, ``webhook`` when a URL is)."""
    out = []
    if cfg.smtp_host and cfg.mail_to.strip():
        out.append("email")
    if cfg.webhook_url:
        out.append("webhook")
    return out


def send_due(engine: Engine, now_ms: int, cfg: FleetSettings) -> list[Delivery]:
    """Tell what is due (openings, then resolutions), respecting the quiet period; answer the deliveries."""
    sent: list[Delivery] = []
    with engine.connect() as conn:
        opened = conn.execute(
            sa.select(alerts).where(alerts.c.notified_ms.is_(None)).order_by(alerts.c.id)
        ).all()
        closed = conn.execute(
            sa.select(alerts)
            .where(
                alerts.c.state == "resolved",
                alerts.c.notified_ms.is_not(None),
                alerts.c.closed_notified_ms.is_(None),
            )
            .order_by(alerts.c.id)
        ).all()
    for row in opened:
        if row.resolved_ms is not None and _quiet(engine, row, "opened", now_ms, cfg):
            _mark(engine, row.id, "notified_ms", now_ms, closed=True)  # came and went in the quiet period
            continue
        sent += _tell(engine, row, "opened", "notified_ms", now_ms, cfg)
    for row in closed:
        if _reopened(engine, row):
            _mark(engine, row.id, "closed_notified_ms", now_ms)
            continue
        sent += _tell(engine, row, "resolved", "closed_notified_ms", now_ms, cfg)
    return sent


def _tell(
    engine: Engine, row: Any, event: str, column: str, now_ms: int, cfg: FleetSettings
) -> list[Delivery]:
    if _quiet(engine, row, event, now_ms, cfg):
        if event == "opened":
            _mark(engine, row.id, column, now_ms)
        return []  # a resolution is told when the quiet period is over
    done = _delivered(engine, row.id, event)
    failures = False
    out = []
    for channel in channels(cfg):
        if channel in done:
            continue  # a retry goes only to the channels that failed
        error = _deliver(channel, row, event, now_ms, cfg)
        failures = failures or error is not None
        out.append(Delivery(row.id, channel, event, error))
        with engine.begin() as conn:
            conn.execute(notifications.insert().values(key=row.key, alert_id=row.id, channel=channel, event=event,
                                                       at_ms=now_ms, error=error))  # fmt: skip
    if not failures:
        _mark(engine, row.id, column, now_ms)
    return out


def _delivered(engine: Engine, alert_id: int, event: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(notifications.c.channel).where(
                notifications.c.alert_id == alert_id,
                notifications.c.event == event,
                notifications.c.error.is_(None),
            )
        )
        return {r[0] for r in rows}


def _mark(engine: Engine, alert_id: int, column: str, now_ms: int, closed: bool = False) -> None:
    values = {column: now_ms, **({"closed_notified_ms": now_ms} if closed else {})}
    with engine.begin() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))


def _quiet(engine: Engine, row: Any, event: str, now_ms: int, cfg: FleetSettings) -> bool:
    """Whether a message about the alert's condition (its key), other than this one, was delivered within the
    quiet period."""
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(sa.func.max(notifications.c.at_ms)).where(
                notifications.c.key == row.key,
                notifications.c.error.is_(None),
                sa.not_(sa.and_(notifications.c.alert_id == row.id, notifications.c.event == event)),
            )
        ).scalar()
    return last is not None and now_ms - last < cfg.quiet_s * 1000


def _reopened(engine: Engine, row: Any) -> bool:
    with engine.connect() as conn:
        newer = conn.execute(
            sa.select(sa.func.count()).where(alerts.c.key == row.key, alerts.c.id > row.id)
        ).scalar_one()
    return bool(newer)


def payload(row: Any, event: str) -> dict[str, Any]:
    """The JSON document of a notification (the webhook's body)."""
    detail = json.loads(row.detail) if isinstance(row.detail, str) else dict(row.detail)
    return {
        "event": event,
        "alert": {
            "id": row.id, "key": row.key, "kind": row.kind, "gateway": row.gateway_id, "node": row.node,
            "state": row.state, "started_ms": row.started_ms, "opened_ms": row.opened_ms,
            "resolved_ms": row.resolved_ms, "acked_by": row.acked_by, "detail": detail,
            "title_id": texts.title(row.kind, row.gateway_id, row.node, detail, "id"),
            "title_en": texts.title(row.kind, row.gateway_id, row.node, detail, "en"),
        },
    }  # fmt: skip


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook's ``X-Anjungan-Signature``: hex HMAC-SHA256 of ``"<timestamp>\\n"`` + body."""
    return hmac.new(secret.encode(), f"{timestamp}\n".encode() + body, hashlib.sha256).hexdigest()


def _deliver(channel: str, row: Any, event: str, now_ms: int, cfg: FleetSettings) -> str | None:
    doc = payload(row, event)
    try:
        if channel == "email":
            _email(doc, cfg)
        else:
            _webhook(doc, now_ms, cfg)
    except (OSError, smtplib.SMTPException, requests.RequestException, WebhookRefused) as err:
        return f"{type(err).__name__}: {err}"[:500]
    return None


def _email(doc: dict[str, Any], cfg: FleetSettings) -> None:
    alert = doc["alert"]
    verb = {"opened": ("Peringatan", "Alert"), "resolved": ("Selesai", "Resolved")}[doc["event"]]
    message = EmailMessage()
    message["Subject"] = f"[anjungan] {verb[0]}: {alert['title_id']}"
    message["From"] = cfg.mail_from
    message["To"] = ", ".join(a.strip() for a in cfg.mail_to.split(",") if a.strip())
    message.set_content(texts.mail_body(doc))
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=TIMEOUT_S) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password)
        smtp.send_message(message)


class WebhookRefused(Exception):
    """The webhook answered with a status other than 2xx."""


def _webhook(doc: dict[str, Any], now_ms: int, cfg: FleetSettings) -> None:
    body = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    stamp = now_ms // 1000
    headers = {"Content-Type": "application/json", "X-Anjungan-Timestamp": str(stamp)}
    if cfg.webhook_secret:
        headers["X-Anjungan-Signature"] = sign(cfg.webhook_secret, stamp, body)
    answer = requests.post(cfg.webhook_url, data=body, headers=headers, timeout=TIMEOUT_S)
    if not 200 <= answer.status_code < 300:
        raise WebhookRefused(f"HTTP {answer.status_code}")
