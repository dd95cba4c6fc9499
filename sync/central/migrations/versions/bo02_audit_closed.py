"""The audit trail's last doors closed: SQLite's ``INSERT OR REPLACE`` (which deletes the old row without
firing the delete trigger) and PostgreSQL's ``TRUNCATE`` (which fires no row trigger) are refused too.

Revision ID: bo02
Revises: 0006
"""

from alembic import op

revision = "bo02"
down_revision = "0006"
branch_labels = None
depends_on = None

_SQLITE = (
    # REPLACE resolves a primary-key conflict by deleting the old row without firing delete triggers
    # (sqlite.org/lang_conflict.html, unless recursive_triggers is on); a BEFORE INSERT trigger sees it first
    "CREATE TRIGGER bo_audit_no_replace BEFORE INSERT ON bo_audit "
    "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM bo_audit WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
)
_PG = (
    "CREATE TRIGGER bo_audit_no_truncate BEFORE TRUNCATE ON bo_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION bo_audit_append_only()",
)


def upgrade() -> None:
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bo_audit_no_truncate ON bo_audit")
    else:
        op.execute("DROP TRIGGER IF EXISTS bo_audit_no_replace")
