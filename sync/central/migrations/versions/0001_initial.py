"""The initial schema: gateways, stream state, the three streams, downstream content.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _time_columns() -> list[sa.Column]:
    return [
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("offset_ms", sa.BigInteger),
        sa.Column("true_ms", sa.BigInteger),
        sa.Column("clock_ok", sa.Boolean, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_sealed", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger),
        sa.Column("last_batch_ms", sa.BigInteger),
    )
    op.create_table(
        "stream_state",
        sa.Column("gateway_id", sa.String(64), sa.ForeignKey("gateways.id"), primary_key=True),
        sa.Column("stream", sa.String(16), primary_key=True),
        sa.Column("acked", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("stored", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "readings",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("boot", sa.BigInteger, nullable=False),
        sa.Column("q", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(53), nullable=False),
        *_time_columns(),
    )
    op.create_table(
        "events",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("node", sa.String(64)),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        *_time_columns(),
    )
    op.create_table(
        "submissions",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_date", sa.String(10)),
        sa.Column("public", sa.Text, nullable=False),
        sa.Column("personal", sa.Text),
        *_time_columns(),
    )
    op.create_index("submissions_number", "submissions", ["gateway_id", "number"])
    op.create_table(
        "content",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False, unique=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("changed_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("content", "submissions", "events", "readings", "stream_state", "gateways"):
        op.drop_table(table)
