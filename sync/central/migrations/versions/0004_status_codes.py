"""The hash of each submission's status code (gateway.statuscode).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("access_hash", sa.String(64)))


def downgrade() -> None:
    op.drop_column("submissions", "access_hash")
