"""WSGI entry for gunicorn: ``gunicorn sync.central.wsgi:app`` (database from ANJUNGAN_CENTRAL_DB)."""

from sync.central.app import create_app

app = create_app()
