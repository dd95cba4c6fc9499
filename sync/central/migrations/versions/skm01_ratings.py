"""The citizens' anonymous satisfaction ratings (Survei Kepuasan Masyarakat, PermenPANRB 14/2017): stream
``ratings`` of the sync (docs/protocol.md, docs/skm.md).

Revision ID: skm01
Revises: sms01
"""

import sqlalchemy as sa
from alembic import op

revision = "skm01"
down_revision = "sms01"
branch_labels = None
depends_on = None

_ELEMENTS = ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9")  # as they were when this was written


def upgrade() -> None:
    op.create_table(
        "skm_ratings",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("uuid", sa.String(64), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        *(sa.Column(element, sa.SmallInteger) for element in _ELEMENTS),
    )
    op.create_index("skm_ratings_day", "skm_ratings", ["day"])


def downgrade() -> None:
    op.drop_index("skm_ratings_day", table_name="skm_ratings")
    op.drop_table("skm_ratings")
