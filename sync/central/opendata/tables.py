"""The open-data side's tables (migration ``0005``), apart from the sync's tables in db.py."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Complaints an officer withheld from Open311, with the reason; a complaint shown again loses its row.
hidden = sa.Table(
    "opendata_hidden",
    metadata,
    sa.Column("uuid", sa.String(64), primary_key=True),  # the submission's uuid (its Open311 id)
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("hidden_by", sa.String(64), nullable=False),
    sa.Column("hidden_ms", sa.BigInteger, nullable=False),
)

# Every officer's action on open data (hide, show, set a place, publish), never rewritten.
audit = sa.Table(
    "opendata_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

# Satu Data reference data of a kiosk (node "") or of one node: the Kemendagri region code and the producer.
places = sa.Table(
    "opendata_places",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("region_code", sa.String(13)),
    sa.Column("producer", sa.Text),
)

# How far each gateway's readings have been published to a CKAN resource (the highest seq included).
ckan_marks = sa.Table(
    "opendata_ckan_marks",
    metadata,
    sa.Column("resource_id", sa.String(128), primary_key=True),
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("published_ms", sa.BigInteger, nullable=False),
)
