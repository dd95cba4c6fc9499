"""``GET /metrics`` on the kiosk's port: the gateway's own figures in Prometheus text format (prometheus_client,
imported at the first scrape: kiosk/promcollector.py).

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

from flask import Blueprint, Response, current_app, request

from gateway.scrape import refusal

bp = Blueprint("metrics", __name__)


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
    from kiosk import promcollector  # (on the first scrape: see kiosk/promcollector.py)

    registry = current_app.extensions.get("anjungan_metrics")
    if registry is None:
        registry = current_app.extensions["anjungan_metrics"] = promcollector.registry(
            current_app.extensions["anjungan_store"]
        )
    body, content_type = promcollector.exposition(registry)
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
