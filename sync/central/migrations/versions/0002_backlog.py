"""What each gateway last reported still waiting to be sent, per stream (shown on the overview page).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gateways", sa.Column("backlog", sa.Text))
    op.add_column("gateways", sa.Column("backlog_ms", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("gateways", "backlog_ms")
    op.drop_column("gateways", "backlog")
