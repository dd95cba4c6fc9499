"""The fleet's tables (migration ``0006``): gateways' and nodes' reported health, places, hourly and daily
roll-ups of readings, alerts and their notifications. Officers' changes are recorded in the back office's audit trail."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The health a gateway last reported (X-Anjungan-Health), one row per gateway.
health = sa.Table(
    "fleet_health",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("reported_ms", sa.BigInteger, nullable=False),  # the central's clock
    sa.Column("version", sa.String(40)),
    sa.Column("uptime_s", sa.BigInteger),
    sa.Column("disk_free_b", sa.BigInteger),
    sa.Column("disk_total_b", sa.BigInteger),
    sa.Column("store_b", sa.BigInteger),
    sa.Column("budget_b", sa.BigInteger),
    sa.Column("clock_ok", sa.Boolean),
    sa.Column("offset_ms", sa.BigInteger),
    sa.Column("dead", sa.BigInteger),
    sa.Column("sync_s", sa.BigInteger),
    sa.Column("oldest", sa.Text),  # JSON {stream: age in s of its oldest waiting record}
    sa.Column("water_alert_cm", sa.Float(53)),
    sa.Column("mains_min_v", sa.Float(53)),
)

# Each node's health: from the gateway's X-Anjungan-Nodes report and from hello events; interval_set_s and
# producer are set at the central (audited) and win over what the gateway reports.
nodes = sa.Table(
    "fleet_nodes",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("last_seen_ms", sa.BigInteger),  # the central's clock: report time less the reported age
    sa.Column("reported_ms", sa.BigInteger),
    sa.Column("boot", sa.BigInteger),
    sa.Column("fw", sa.String(40)),
    sa.Column("mem_free", sa.BigInteger),
    sa.Column("rssi", sa.BigInteger),
    sa.Column("bat_v", sa.Float(53)),
    sa.Column("bad_frames", sa.BigInteger),
    sa.Column("frames", sa.BigInteger),
    sa.Column("up_s", sa.BigInteger),
    sa.Column("interval_s", sa.BigInteger),  # as the gateway reports it
    sa.Column("interval_set_s", sa.BigInteger),  # set at the central
    sa.Column("producer", sa.String(64)),  # the OPD that owns the node (an OPD code), set at the central
)

# Where a kiosk (node "") or a node stands: a label and WGS 84 coordinates, set at the central (audited).
places = sa.Table(
    "fleet_places",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("lat", sa.Float(53)),
    sa.Column("lon", sa.Float(53)),
)

# How far each gateway's readings are rolled up: every seq up to here (all stored, no gap below) is counted.
marks = sa.Table(
    "fleet_rollup_marks",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)


def _rollup(name: str, period: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column(period, sa.BigInteger, primary_key=True),  # the period's start, ms UTC
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("total", sa.Float(53), nullable=False),
        sa.Column("low", sa.Float(53), nullable=False),
        sa.Column("high", sa.Float(53), nullable=False),
    )


hourly = _rollup("fleet_hourly", "hour_ms")
daily = _rollup("fleet_daily", "day_ms")  # local days (the regency's UTC offset)
sa.Index("fleet_daily_day", daily.c.day_ms)  # a window of days across every series (completeness)
sa.Index("fleet_hourly_name_hour", hourly.c.name, hourly.c.hour_ms)  # recent hours of one measurement (rain)

# Each (node, measurement) ever seen: its first and last reading's time and the last value.
series = sa.Table(
    "fleet_series",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("first_ms", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
    sa.Column("last_value", sa.Float(53), nullable=False),
)

# An alert: opened when its condition holds, acknowledged by an officer, resolved when the condition ends.
# key identifies the condition ("kiosk-silent:<gw>", "power:<gw>/<node>", ...); at most one unresolved alert
# per key. Resolved alerts stay: they are the history.
alerts = sa.Table(
    "fleet_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(160), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("node", sa.String(32)),
    sa.Column("state", sa.String(16), nullable=False),  # open, acknowledged, resolved
    sa.Column("started_ms", sa.BigInteger, nullable=False),  # when the condition began (best known)
    sa.Column("opened_ms", sa.BigInteger, nullable=False),
    sa.Column("acked_ms", sa.BigInteger),
    sa.Column("acked_by", sa.String(64)),
    sa.Column("resolved_ms", sa.BigInteger),
    sa.Column("detail", sa.Text, nullable=False),  # JSON
    sa.Column("notified_ms", sa.BigInteger),  # the opening was told (or kept quiet: see fleet/notify.py)
    sa.Column("closed_notified_ms", sa.BigInteger),  # the resolution was told (or needed no telling)
)
sa.Index("fleet_alerts_state", alerts.c.state)
# at most one unresolved alert per condition, even with several evaluators at once
sa.Index(
    "fleet_alerts_one_open",
    alerts.c.key,
    unique=True,
    sqlite_where=alerts.c.resolved_ms.is_(None),
    postgresql_where=alerts.c.resolved_ms.is_(None),
)

# Every notification sent (or that failed), for the record and for the quiet period.
notifications = sa.Table(
    "fleet_notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(160), nullable=False, index=True),
    sa.Column("alert_id", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # email, webhook
    sa.Column("event", sa.String(16), nullable=False),  # opened, resolved
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("error", sa.Text),  # null: delivered
)
