"""Open data: complaints withheld from Open311, the audit of officers' open-data actions, Satu Data places,
CKAN publishing marks.

Revision ID: 0005
Revises: bo01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "bo01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_hidden",
        sa.Column("uuid", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("hidden_by", sa.String(64), nullable=False),
        sa.Column("hidden_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "opendata_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "opendata_places",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("region_code", sa.String(13)),
        sa.Column("producer", sa.Text),
    )
    op.create_table(
        "opendata_ckan_marks",
        sa.Column("resource_id", sa.String(128), primary_key=True),
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("published_ms", sa.BigInteger, nullable=False),
    )
    # Open311 lists complaints by their submission time and finds one by its uuid
    op.create_index("submissions_kind_at", "submissions", ["kind", "at_ms"])
    op.create_index("submissions_uuid", "submissions", ["uuid"])
    # aggregates of one gateway's readings over a time range (CKAN publishing, downloads)
    op.create_index("readings_gateway_time", "readings", ["gateway_id", "true_ms"])


def downgrade() -> None:
    op.drop_index("readings_gateway_time", "readings")
    op.drop_index("submissions_uuid", "submissions")
    op.drop_index("submissions_kind_at", "submissions")
    for table in ("opendata_ckan_marks", "opendata_places", "opendata_audit", "opendata_hidden"):
        op.drop_table(table)
