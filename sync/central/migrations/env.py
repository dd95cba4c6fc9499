"""Alembic environment: migrations run on the connection that :func:`sync.central.db.migrate` passes in."""

import sqlalchemy as sa
from alembic import context

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    # a migration is not bounded by the API's statement and lock timeouts (waiting for another worker is fine)
    connection.execute(sa.text("SET LOCAL statement_timeout = 0"))
    connection.execute(sa.text("SET LOCAL lock_timeout = 0"))
    # several workers may start at once: one migrates, the others wait and then find nothing to do
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(7020512)"))
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
