"""anjungan's gateway side: configuration, the SQLite store, node ingest and the command line."""

__version__ = "0.1.0"
# The day this version was released (ISO 8601, UTC): no clock that runs it can read earlier, so a central's time
# before it is refused (gateway/clockset.py). Set it with each release, never to a day still to come.
RELEASE_DATE = "2026-11-30"
