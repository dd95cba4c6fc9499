"""The Prometheus side of ``GET /metrics`` (kiosk/metrics.py): the collector over the store and the text it
makes, with prometheus_client. Imported at the first scrape, not with the kiosk: prometheus_client adds about
1.2 MB to the kiosk's memory, which a kiosk nobody scrapes never needs (bench/field.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.store import Store

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


def registry(store: Store) -> CollectorRegistry:
    """A registry holding one :class:`GatewayCollector` over ``store``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(store))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry's metrics in Prometheus text format, and that format's content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
