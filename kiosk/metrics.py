"""``GET /metrics`` on the kiosk's port: the gateway's own figures in Prometheus text format (prometheus_client).

Read from the store at scrape time, so the kiosk process reports what the ingest and sync processes wrote.
No personal data: nodes by id, streams by name, submissions never counted by person. Readable without the
operator's login, as Prometheus scrapes it; ``[kiosk] metrics_token`` (bearer token) and ``metrics_allow``
(client addresses or networks) restrict it (docs/kiosk.md, "Metrics").

Metrics (``anjungan_gateway_*``): ``readings_stored_total`` (every reading the store has taken),
``readings_per_second`` (over the last 10 minutes), per node ``node_frames_total``, ``node_bad_frames_total``
(lines that were not valid frames), ``node_up``, ``node_last_seen_timestamp_seconds``; ``store_bytes``,
``store_budget_bytes``; per stream ``backlog_records``, ``backlog_oldest_age_seconds``, ``dead_letters``,
``sync_last_success_timestamp_seconds``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.scrape import refusal
from gateway.store import Store

bp = Blueprint("metrics", __name__)
PREFIX = "anjungan_gateway_"
RATE_WINDOW_MS = 600_000


class GatewayCollector(Collector):
    """A prometheus_client collector over the gateway's store."""

    def __init__(self, store: Store, offline_after: float = 3):
        self.store = store
        self.offline_after = offline_after

    def collect(self) -> Iterator[Metric]:
        store = self.store
        now = store.clock.now_ms()
        with store.snapshot():
            total, rate = store.readings_total(), store.readings_per_second(now, RATE_WINDOW_MS)
            nodes = store.node_health(offline_after=self.offline_after, now_ms=now)
            used = store.used_bytes()
        backlog = store.backlog()  # its own short read transaction
        yield CounterMetricFamily(PREFIX + "readings_stored", "Readings the store has taken", value=total)
        yield GaugeMetricFamily(PREFIX + "readings_per_second", "Readings stored per second, last 10 minutes",
                                value=rate)  # fmt: skip
        yield from self._nodes(nodes)
        yield GaugeMetricFamily(PREFIX + "store_bytes", "Bytes the store uses", value=used)
        if store.budget_bytes:
            yield GaugeMetricFamily(
                PREFIX + "store_budget_bytes", "The store's size budget", value=store.budget_bytes
            )
        yield from self._streams(backlog, now)

    def _nodes(self, nodes: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
        frames = CounterMetricFamily(PREFIX + "node_frames", "Valid frames received", labels=["node"])
        bad = CounterMetricFamily(
            PREFIX + "node_bad_frames", "Lines that were not valid frames", labels=["node"]
        )
        up = GaugeMetricFamily(PREFIX + "node_up", "1 when the node is online", labels=["node"])
        seen = GaugeMetricFamily(PREFIX + "node_last_seen_timestamp_seconds", "Unix time of the node's last frame",
                                 labels=["node"])  # fmt: skip
        for node in nodes:
            frames.add_metric([node["node"]], node["frames"])
            bad.add_metric([node["node"]], node["bad_lines"])
            up.add_metric([node["node"]], 1.0 if node["status"] == "online" else 0.0)
            seen.add_metric([node["node"]], node["last_seen"] / 1000)
        yield from (frames, bad, up, seen)

    def _streams(self, backlog: Mapping[str, Mapping[str, Any]], now: int) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            PREFIX + "backlog_records", "Records not yet at the central", labels=["stream"]
        )
        oldest = GaugeMetricFamily(PREFIX + "backlog_oldest_age_seconds", "Age of the oldest record not yet sent",
                                   labels=["stream"])  # fmt: skip
        dead = GaugeMetricFamily(PREFIX + "dead_letters", "Records the central refused", labels=["stream"])
        success = GaugeMetricFamily(PREFIX + "sync_last_success_timestamp_seconds",
                                    "Unix time of the stream's last successful sync", labels=["stream"])  # fmt: skip
        for stream, state in sorted(backlog.items()):
            pending.add_metric([stream], state["pending"])
            oldest.add_metric(
                [stream], max(0, now - state["oldest_at"]) / 1000 if state["oldest_at"] else 0.0
            )
            dead.add_metric([stream], state["dead_letters"])
            if state["last_success"]:
                success.add_metric([stream], state["last_success"] / 1000)
        yield from (pending, oldest, dead, success)


@bp.get("/metrics")
def metrics() -> Response:
    """The gateway's metrics in Prometheus text format; 401 without the configured token, 403 from an address
    outside ``metrics_allow``."""
    config = current_app.config
    refused = refusal(request.remote_addr, request.headers.get("Authorization"),
                      str(config.get("KIOSK_METRICS_TOKEN") or ""), str(config.get("KIOSK_METRICS_ALLOW") or ""))  # fmt: skip
    if refused:
        response = Response("metrics: not allowed\n", status=refused, mimetype="text/plain")
        if refused == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = current_app.extensions.get("anjungan_metrics")
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(GatewayCollector(current_app.extensions["anjungan_store"]))
        current_app.extensions["anjungan_metrics"] = registry
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
