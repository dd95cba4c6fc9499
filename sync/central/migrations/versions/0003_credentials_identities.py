"""Removed gateways, the credentials audit, documents' files each gateway reports, identities' owners.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gateways", sa.Column("removed_ms", sa.BigInteger))
    op.add_column("gateways", sa.Column("files_report", sa.Text))
    op.create_table(
        "gateway_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_gateway_audit_gateway_id", "gateway_audit", ["gateway_id"])
    op.create_table(
        "identities",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(128), primary_key=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("claimed_ms", sa.BigInteger, nullable=False),
    )
    # identities already in the database belong to the gateway that sent them first
    op.execute(
        "INSERT INTO identities (kind, value, gateway_id, claimed_ms) "
        "SELECT 'node', node, min(gateway_id), 0 FROM readings GROUP BY node"
    )
    op.execute(
        "INSERT INTO identities (kind, value, gateway_id, claimed_ms) "
        "SELECT 'uuid', uuid, min(gateway_id), 0 FROM submissions GROUP BY uuid"
    )
    owners: dict[str, str] = {}
    for gateway_id, number in op.get_bind().execute(
        sa.text("SELECT gateway_id, number FROM submissions ORDER BY gateway_id")
    ):
        owners.setdefault(number.rsplit("-", 2)[0].lower(), gateway_id)
    if owners:
        op.bulk_insert(
            sa.table(
                "identities",
                sa.column("kind", sa.String),
                sa.column("value", sa.String),
                sa.column("gateway_id", sa.String),
                sa.column("claimed_ms", sa.BigInteger),
            ),
            [
                {"kind": "number-prefix", "value": k, "gateway_id": v, "claimed_ms": 0}
                for k, v in owners.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("identities")
    op.drop_index("ix_gateway_audit_gateway_id", "gateway_audit")
    op.drop_table("gateway_audit")
    op.drop_column("gateways", "files_report")
    op.drop_column("gateways", "removed_ms")
