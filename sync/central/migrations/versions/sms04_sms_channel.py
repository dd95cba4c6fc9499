"""SMS: the state of the way out (``sms_channel``, described in sync/central/sms/tables.py), so that a modem or
gateway that is down is shown on the back office's SMS page, and rounds back off as a whole while it is.

Revision ID: sms04
Revises: sms03
"""

from alembic import op

from sync.central.sms import tables

revision = "sms04"
down_revision = "sms03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables.channels.create(op.get_bind())


def downgrade() -> None:
    tables.channels.drop(op.get_bind())
