"""The fleet: reported health of gateways and nodes, places, hourly and daily roll-ups of readings, alerts.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from sync.central.fleet import tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = (tables.health, tables.nodes, tables.places, tables.marks, tables.hourly, tables.daily,
          tables.series, tables.alerts, tables.notifications)  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)  # with its indexes
    # reboots of a node in the last day are counted from its reboot events
    op.create_index("events_kind_at", "events", ["kind", "at_ms"])


def downgrade() -> None:
    op.drop_index("events_kind_at", "events")
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
