"""The back office's tables (SQLAlchemy Core), in the central's metadata; created by migration 0003.

- ``bo_users``: officers' accounts (argon2id hashes, role, OPD, failed logins and lockout).
- ``bo_sessions``: server-side login sessions; the browser holds only the session's random token.
- ``bo_audit``: the append-only audit trail (database triggers refuse UPDATE and DELETE).
- ``bo_cases``: the back office's state of each submission (status, OPD, deadlines, answer).
- ``bo_case_sync``: how many submissions of each gateway already have a case.
- ``bo_opds``, ``bo_days_off``, ``bo_templates``, ``bo_attachments``: OPDs, local days off, answer templates,
  documents attached to answers.
"""

from __future__ import annotations

import sqlalchemy as sa

from sync.central.db import metadata

users = sa.Table(
    "bo_users",
    metadata,
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

sessions = sa.Table(
    "bo_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the token held in the cookie
    sa.Column("user_id", sa.Integer, sa.ForeignKey("bo_users.id"), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.Column("ended_ms", sa.BigInteger),
)

audit = sa.Table(
    "bo_audit",
    metadata,
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

cases = sa.Table(
    "bo_cases",
    metadata,
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
    sa.Column("answer_due", sa.String(10)),  # the answer's deadline when it was answered (on time or late)
    sa.Column("closed_ms", sa.BigInteger),
    sa.Column(
        "details", sa.Text, nullable=False, server_default="{}"
    ),  # JSON: answer, extension, decision...
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

case_sync = sa.Table(
    "bo_case_sync",
    metadata,
    sa.Column("gateway_id", sa.String(64), primary_key=True),
    sa.Column("cases", sa.BigInteger, nullable=False),
)

opds = sa.Table(
    "bo_opds",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

days_off = sa.Table(
    "bo_days_off",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

templates = sa.Table(
    "bo_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("category", sa.String(48), nullable=False, server_default=""),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

attachments = sa.Table(
    "bo_attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)

sa.Index("bo_cases_received", cases.c.received_ms)
sa.Index("bo_cases_open_due", cases.c.is_open, cases.c.due_date)
sa.Index("bo_cases_status_due", cases.c.status, cases.c.due_date)
sa.Index("bo_cases_due", cases.c.due_date, cases.c.received_ms)
sa.Index("bo_cases_category", cases.c.category, cases.c.status)
sa.Index("bo_cases_opd", cases.c.opd, cases.c.received_ms)
sa.Index("bo_cases_kind", cases.c.kind, cases.c.received_ms)
sa.Index("bo_cases_number", cases.c.number)
sa.Index("bo_cases_related", cases.c.related_number)
sa.Index("bo_audit_target", audit.c.target)
sa.Index("bo_attachments_case", attachments.c.gateway_id, attachments.c.number)
