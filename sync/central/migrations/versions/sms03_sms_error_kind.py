"""SMS queue: the kind of a message's last failure (``sms_outbox.error_kind``: port, network, maybe-sent, ...;
sync/central/sms/senders.py), so that the back office tells it in the officer's language beside the raw text.

Revision ID: sms03
Revises: sms02
"""

import sqlalchemy as sa
from alembic import op

revision = "sms03"
down_revision = "sms02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # sms01 creates the table from its current definition, which already has the column on a new database
    if "error_kind" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sms_outbox")}:
        op.add_column("sms_outbox", sa.Column("error_kind", sa.String(24)))


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox") as batch:
        batch.drop_column("error_kind")
