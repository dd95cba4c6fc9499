"""``GET /metrics`` at the central: Prometheus text format (prometheus_client), for operators' own tools.

Every figure is read from the database at scrape time, so each process of a multi-worker central (gunicorn)
answers the same. No personal data: gateways are named by their office id; submissions only counted.
Readable without an officer's login, as Prometheus scrapes it; the settings ``metrics_token`` (a bearer
token) and ``metrics_allow`` (client addresses or networks) restrict it (docs/opendata.md).

Metrics (``anjungan_central_*``): ``gateways``; per gateway ``gateway_last_contact_timestamp_seconds``,
``gateway_last_batch_timestamp_seconds``, ``gateway_backlog_records{stream}`` (what the gateway last reported
still to send), ``gateway_records_stored_total{stream}`` (ingest: ``rate()`` of it is the ingest rate);
``submissions{kind}``, ``open311_withheld``; ``alerts{state,kind}`` (every state and kind of
sync/central/fleet/alerts.py, 0 when none).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from gateway.scrape import refusal
from sync import protocol
from sync.central.db import gateways, stream_state, submissions
from sync.central.fleet.alerts import KINDS as ALERT_KINDS
from sync.central.fleet.alerts import STATES as ALERT_STATES
from sync.central.fleet.tables import alerts
from sync.central.opendata import settings
from sync.central.opendata.tables import hidden

bp = Blueprint("metrics", __name__)
PREFIX = "anjungan_central_"


class CentralCollector(Collector):
    """A prometheus_client collector over the central's database (one query per table per scrape)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(gateways.c.id, gateways.c.last_seen_ms, gateways.c.last_batch_ms,
                                          gateways.c.backlog).order_by(gateways.c.id)).all()  # fmt: skip
            states = conn.execute(sa.select(stream_state.c.gateway_id, stream_state.c.stream,
                                            stream_state.c.stored)).all()  # fmt: skip
            kinds = conn.execute(
                sa.select(submissions.c.kind, sa.func.count()).group_by(submissions.c.kind)
            ).all()
            withheld = conn.execute(sa.select(sa.func.count()).select_from(hidden)).scalar_one()
            by_state_kind = (alerts.c.state, alerts.c.kind)
            alert_counts = conn.execute(
                sa.select(*by_state_kind, sa.func.count()).group_by(*by_state_kind)
            ).all()
        yield from self._gateways(rows)
        stored = CounterMetricFamily(
            PREFIX + "gateway_records_stored",
            "Records stored per gateway and stream",
            labels=["gateway", "stream"],
        )
        for gateway_id, stream, count in states:
            stored.add_metric([gateway_id, stream], float(count))
        yield stored
        counts: dict[str, int] = {str(k): int(n) for k, n in kinds}
        by_kind = GaugeMetricFamily(PREFIX + "submissions", "Citizens' submissions stored", labels=["kind"])
        for kind in protocol.SUBMISSION_KINDS:
            by_kind.add_metric([kind], float(counts.get(kind, 0)))
        yield by_kind
        yield GaugeMetricFamily(PREFIX + "open311_withheld", "Complaints withheld from Open311 by officers",
                                value=float(withheld))  # fmt: skip
        yield self._alerts(alert_counts)

    @staticmethod
    def _alerts(rows: Sequence[Any]) -> Metric:
        """``alerts{state,kind}``: every state and kind known, 0 when none (so that a rule can say ``> 0``)."""
        found = {(str(state), str(kind)): int(n) for state, kind, n in rows}
        family = GaugeMetricFamily(PREFIX + "alerts", "Fleet alerts per state (open, acknowledged, resolved) "
                                   "and kind", labels=["state", "kind"])  # fmt: skip
        for state in ALERT_STATES:
            for kind in ALERT_KINDS:
                family.add_metric([state, kind], float(found.get((state, kind), 0)))
        return family

    def _gateways(self, rows: Sequence[Any]) -> Iterator[Metric]:
        yield GaugeMetricFamily(PREFIX + "gateways", "Registered gateways", value=float(len(rows)))
        contact = GaugeMetricFamily(PREFIX + "gateway_last_contact_timestamp_seconds",
                                    "Unix time of the gateway's last request", labels=["gateway"])  # fmt: skip
        batch = GaugeMetricFamily(PREFIX + "gateway_last_batch_timestamp_seconds",
                                  "Unix time of the gateway's last batch", labels=["gateway"])  # fmt: skip
        backlog = GaugeMetricFamily(PREFIX + "gateway_backlog_records",
                                    "Records the gateway last reported still to send", labels=["gateway", "stream"])  # fmt: skip
        for gateway_id, seen_ms, batch_ms, reported in rows:
            if seen_ms is not None:
                contact.add_metric([gateway_id], seen_ms / 1000)
            if batch_ms is not None:
                batch.add_metric([gateway_id], batch_ms / 1000)
            for stream, count in (json.loads(reported) if reported else {}).items():
                if stream in protocol.STREAMS and isinstance(count, int):
                    backlog.add_metric([gateway_id, stream], float(count))
        yield from (contact, batch, backlog)


def init_app(app: Any, engine: Engine) -> None:
    """Register ``/metrics`` with a registry of its own holding the central's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CentralCollector(engine))
    app.extensions["anjungan.metrics_registry"] = registry
    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    """The central's metrics in Prometheus text format; 401 without the configured bearer token, 403 from
    an address outside ``metrics_allow``."""
    config = current_app.config
    refused = refusal(request.remote_addr, request.headers.get("Authorization"),
                      str(settings.value(config, "metrics_token")), str(settings.value(config, "metrics_allow")))  # fmt: skip
    if refused:
        response = Response("metrics: not allowed\n", status=refused, mimetype="text/plain")
        if refused == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = current_app.extensions["anjungan.metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
