"""SMS to citizens: the queue (``sms_outbox``, described in sync/central/sms/tables.py) and, per submission,
whether its citizen asked to be told by SMS (``submissions.notify_sms``, the record's optional ``sms`` field).

Revision ID: sms01
Revises: bo02
"""

import sqlalchemy as sa
from alembic import op

from sync.central.sms import tables

revision = "sms01"
down_revision = "bo02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("notify_sms", sa.Boolean))
    tables.outbox.create(op.get_bind())  # with its indexes


def downgrade() -> None:
    tables.outbox.drop(op.get_bind())
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("notify_sms")
