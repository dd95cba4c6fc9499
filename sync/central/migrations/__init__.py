"""Alembic migrations of the central's database (run by :func:`sync.central.db.migrate`)."""
