"""SMS queue: who holds a message being sent (``sms_outbox.claimed_by``: ``<host>:<pid>``), so that a worker
starting while another sends interrupts only the claims whose lease ran out (sync/central/sms/worker.py).

Revision ID: sms02
Revises: skm01
"""

import sqlalchemy as sa
from alembic import op

revision = "sms02"
down_revision = "skm01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sms01 creates the table from its current definition, which already has the column on a new database
    if "claimed_by" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sms_outbox")}:
        op.add_column("sms_outbox", sa.Column("claimed_by", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_column("claimed_by")
