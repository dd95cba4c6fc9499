"""What the central sends besides records: documents' files and configuration overrides.

Documents arrive as content (``kind = 'document'``, data with ``sha256`` and ``size``), and so do the documents
attached to an officer's answer (a submission's status change lists them, kept in ``submissions.attachments``);
their bytes are fetched separately by the sync side into ``<data_dir>/files/<sha256>``. The ``files`` table keeps each file's
download state (fetched or not, attempts, last error) so that the kiosk can tell a document it can show from
one still coming, and so that ``anjungan sync status`` can say what is missing.

Configuration overrides arrive as content too (``kind = 'config'``, id ``"section.key"``, data
``{"value": ...}``); :meth:`~gateway.store.content.ContentMixin.config_overrides` reads them for whichever part applies them.
"""

from __future__ import annotations

import re
from pathlib import Path

from gateway.backoff import pause_after
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.store.rows import FileFailure, FilesSummary

SHA256 = re.compile(r"[0-9a-f]{64}")


def file_path(data_dir: Path, sha256: str) -> Path:
    """Where a document's bytes live once fetched (content-addressed)."""
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return Path(data_dir) / "files" / sha256


RETRY_BASE_S = 30.0  # a file that failed is tried again after 30 s, 60 s, 120 s, ... (per file)
RETRY_CAP_S = 6 * 3600.0


def retry_delay_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed download of one file before trying it again."""
    return pause_after(attempts, RETRY_BASE_S, RETRY_CAP_S)


class FilesMixin(StoreBase):
    """The documents' files' queries of :class:`~gateway.store.Store`."""

    def files_wanted(self) -> list[tuple[str, int | None]]:
        """(sha256, size) of every file not fetched yet that a current document needs, oldest document first, then
        those of the documents attached to answers of this kiosk's submissions (``submissions.attachments``)."""
        rows = self.conn.execute(
            "SELECT DISTINCT json_extract(c.data, '$.sha256'), json_extract(c.data, '$.size') FROM content c "
            "LEFT JOIN files f ON f.sha256 = json_extract(c.data, '$.sha256') "
            "WHERE c.kind = 'document' AND json_extract(c.data, '$.sha256') IS NOT NULL "
            "AND f.fetched_at IS NULL ORDER BY c.updated_at, c.id"
        ).fetchall()
        rows += self.conn.execute(
            "SELECT DISTINCT json_extract(a.value, '$.sha256'), json_extract(a.value, '$.size') "
            "FROM submissions s, json_each(s.attachments) a "
            "LEFT JOIN files f ON f.sha256 = json_extract(a.value, '$.sha256') "
            "WHERE s.attachments IS NOT NULL AND f.fetched_at IS NULL ORDER BY s.updated_at, s.seq"
        ).fetchall()
        out: dict[str, int | None] = {}
        for sha, size in rows:
            if isinstance(sha, str) and SHA256.fullmatch(sha):
                out.setdefault(sha, int(size) if size is not None else None)
        return list(out.items())

    def mark_file_fetched(self, sha256: str, size: int) -> None:
        """The file ``sha256`` (``size`` bytes) is now in ``<data_dir>/files``."""
        now = db.now_ms()
        with db.transaction(self.conn, "recording a fetched file"):
            self.conn.execute(
                "INSERT INTO files (sha256, size, fetched_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, fetched_at = excluded.fetched_at, "
                "last_error = NULL, updated_at = excluded.updated_at",
                (sha256, size, now, now),
            )

    def mark_file_failed(self, sha256: str, error: str) -> None:
        """Downloading the file ``sha256`` failed with ``error``: count the attempt (see :func:`retry_delay_s`)."""
        now = db.now_ms()
        with db.transaction(self.conn, "recording a failed file download"):
            self.conn.execute(
                "INSERT INTO files (sha256, attempts, last_error, updated_at) VALUES (?, 1, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET attempts = files.attempts + 1, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at",
                (sha256, error, now),
            )

    def files_due(self, now_ms: int | None = None) -> list[tuple[str, int | None]]:
        """The files of :meth:`files_wanted` whose turn it is: never tried, or their own retry delay has passed since
        their last failure. One file that keeps failing never holds up the others (or the rest of the sync)."""
        now_ms = db.now_ms() if now_ms is None else now_ms
        state = {
            sha: (attempts, updated_at)
            for sha, attempts, updated_at in self.conn.execute(
                "SELECT sha256, attempts, updated_at FROM files WHERE fetched_at IS NULL AND last_error IS NOT NULL"
            )
        }
        out = []
        for sha, size in self.files_wanted():
            attempts, updated_at = state.get(sha, (0, 0))
            if now_ms >= (updated_at or 0) + retry_delay_s(attempts) * 1000:
                out.append((sha, size))
        return out

    def files_failing(self) -> list[FileFailure]:
        """Files still wanted whose last download failed: ``{"sha256", "attempts", "last_error", "failed_at",
        "next_attempt_at"}`` (times in ms), most recent failure first."""
        wanted_now = {sha for sha, _size in self.files_wanted()}
        rows = self.conn.execute(
            "SELECT sha256, attempts, last_error, updated_at FROM files "
            "WHERE fetched_at IS NULL AND last_error IS NOT NULL ORDER BY updated_at DESC"
        ).fetchall()
        failures: list[FileFailure] = [
            {"sha256": sha, "attempts": attempts, "last_error": error, "failed_at": at,
             "next_attempt_at": at + int(retry_delay_s(attempts) * 1000)}
            for sha, attempts, error, at in rows
            if sha in wanted_now
        ]  # fmt: skip
        return failures

    def file_fetched(self, sha256: str) -> bool:
        """Whether the file ``sha256`` has been fetched (the kiosk can show it)."""
        row = self.reader.execute("SELECT fetched_at FROM files WHERE sha256 = ?", (sha256,)).fetchone()
        return bool(row and row[0] is not None)

    def files_summary(self) -> FilesSummary:
        """Counts for status: documents' files fetched and missing, and the last download error."""
        missing = self.files_wanted()
        fetched = self.conn.execute("SELECT count(*) FROM files WHERE fetched_at IS NOT NULL").fetchone()[0]
        error = self.conn.execute(
            "SELECT last_error FROM files WHERE fetched_at IS NULL AND last_error IS NOT NULL "
            "ORDER BY updated_at DESC LIMIT 1"
        ).fetchone()
        return {
            "fetched": fetched,
            "missing": len(missing),
            "failing": len(self.files_failing()),
            "last_error": error[0] if error else None,
        }
