"""anjungan's gateway side: configuration, the SQLite store, node ingest and the command line."""

__version__ = "0.1.0"
