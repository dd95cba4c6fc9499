"""The back office: officers, server-side sessions, the append-only audit trail, cases, OPDs, local days off,
answer templates and answer attachments (tables described in sync/central/backoffice/models.py).

In the one line of revisions, after 0004; the
central migrates to the head.

Revision ID: bo01
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "bo01"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("bo_attachments", "bo_templates", "bo_days_off", "bo_opds", "bo_case_sync", "bo_cases", "bo_audit",
          "bo_sessions", "bo_users")  # fmt: skip

# The audit trail is append-only: the database itself refuses to change or delete a row.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER bo_audit_no_update BEFORE UPDATE ON bo_audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER bo_audit_no_delete BEFORE DELETE ON bo_audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION bo_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
    "CREATE TRIGGER bo_audit_no_change BEFORE UPDATE OR DELETE ON bo_audit "
    "FOR EACH ROW EXECUTE FUNCTION bo_audit_append_only()",
    # the words of the public text, kept beside it so that a search never recomputes them
    "ALTER TABLE bo_cases ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
    "CREATE INDEX bo_cases_search ON bo_cases USING gin (search_vector)",
)


def upgrade() -> None:
    op.create_table(
        "bo_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("opd", sa.String(32)),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until_ms", sa.BigInteger),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_login_ms", sa.BigInteger),
    )
    op.create_table(
        "bo_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the token held in the cookie
        sa.Column("user_id", sa.Integer, sa.ForeignKey("bo_users.id"), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("ended_ms", sa.BigInteger),
    )
    op.create_table(
        "bo_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("ip", sa.String(64)),
    )
    op.create_table(
        "bo_cases",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("received_date", sa.String(10), nullable=False),
        sa.Column("category", sa.String(48)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("confidential", sa.Boolean, nullable=False),
        sa.Column("related_number", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("opd", sa.String(32)),
        sa.Column("due_date", sa.String(10)),  # the current stage's deadline; null once answered or closed
        sa.Column("extended", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("verified_ms", sa.BigInteger),
        sa.Column("answered_ms", sa.BigInteger),
        sa.Column("answered_date", sa.String(10)),
        sa.Column(
            "answer_due", sa.String(10)
        ),  # the answer's deadline when it was answered (on time or late)
        sa.Column("closed_ms", sa.BigInteger),
        sa.Column(
            "details", sa.Text, nullable=False, server_default="{}"
        ),  # JSON: answer, extension, decision...
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bo_case_sync",
        sa.Column("gateway_id", sa.String(64), primary_key=True),
        sa.Column("cases", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bo_opds",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "bo_days_off",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "bo_templates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(48), nullable=False, server_default=""),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "bo_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gateway_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("bo_cases_received", "bo_cases", ["received_ms"])
    op.create_index("bo_cases_open_due", "bo_cases", ["is_open", "due_date"])
    op.create_index("bo_cases_status_due", "bo_cases", ["status", "due_date"])
    op.create_index("bo_cases_due", "bo_cases", ["due_date", "received_ms"])
    op.create_index("bo_cases_category", "bo_cases", ["category", "status"])
    op.create_index("bo_cases_opd", "bo_cases", ["opd", "received_ms"])
    op.create_index("bo_cases_kind", "bo_cases", ["kind", "received_ms"])
    op.create_index("bo_cases_number", "bo_cases", ["number"])
    op.create_index("bo_cases_related", "bo_cases", ["related_number"])
    op.create_index("bo_audit_target", "bo_audit", ["target"])
    op.create_index("bo_attachments_case", "bo_attachments", ["gateway_id", "number"])
    statements = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bo_audit_no_change ON bo_audit")
        op.execute("DROP FUNCTION IF EXISTS bo_audit_append_only()")
    for table in TABLES:
        op.drop_table(table)
