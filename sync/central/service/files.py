"""Files (documents and answers' attachments): bytes stored content-addressed by sha256 in the files folder,
durably and privately, served to gateways by ``/api/v1/files/<sha256>``, announced through the changes feed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import Engine

from gateway import private
from sync.central import db
from sync.central.errors import CentralError, Unavailable
from sync.central.service.changes import publish_content
from sync.central.service.formats import SHA256_RE


def file_path(files_dir: Path, sha256: str) -> Path | None:
    """Where a stored file lives, or None when the sha256 is malformed or unknown."""
    if not SHA256_RE.match(sha256):
        return None
    path = files_dir / sha256[:2] / sha256
    return path if path.is_file() else None


def store_file(files_dir: Path, data: bytes) -> str:
    """Store bytes content-addressed under ``files_dir``, durably (fsync, then rename); answer the sha256.

    Raises CentralError when the folder cannot be written (the document is then not announced).
    """
    sha256 = hashlib.sha256(data).hexdigest()
    target = files_dir / sha256[:2] / sha256
    if target.exists():
        return sha256
    temporary = target.with_suffix(f".{secrets.token_hex(4)}.tmp")
    try:
        private.ensure_dir(files_dir)  # 0700 and files 0600 whatever the umask: documents may be confidential
        private.ensure_dir(target.parent)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private.FILE_MODE)
        os.fchmod(descriptor, private.FILE_MODE)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as err:
        temporary.unlink(missing_ok=True) if temporary.parent.is_dir() else None
        if err.errno == errno.ENOSPC:
            raise Unavailable(db.DISK_FULL, f"no space left for documents in {files_dir}") from err
        raise CentralError(f"cannot store documents in {files_dir}: {err.strerror or err}") from err
    return sha256


def publish_document(
    engine: Engine,
    files_dir: Path,
    data: bytes,
    *,
    title: str,
    filename: str,
    mime: str = "application/pdf",
    gateway_id: str | None = None,
) -> str:
    """Store a document's bytes content-addressed and announce it; answer its sha256."""
    sha256 = store_file(files_dir, data)
    meta = {"title": title, "sha256": sha256, "size": len(data), "mime": mime, "filename": filename}
    publish_content(engine, "document", sha256, meta, gateway_id=gateway_id)
    return sha256
