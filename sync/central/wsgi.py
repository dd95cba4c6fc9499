"""WSGI entry for gunicorn: ``gunicorn sync.central.wsgi:app``.

Settings from the environment: ``ANJUNGAN_CENTRAL_DB`` and ``ANJUNGAN_CENTRAL_SERVER_*`` (docs/central.md);
set ``ANJUNGAN_CENTRAL_SERVER_WORKERS`` to gunicorn's ``-w`` so that the connection budget is checked.
"""

from sync.central.app import create_app

app = create_app()
