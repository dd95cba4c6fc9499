"""Downlink: the central's changes, page by page, and the documents' files, resumably.

- ``GET /api/v1/changes?since=<cursor>`` is applied one page at a time with
  :meth:`~gateway.store.Store.apply_changes`, which stores the new cursor in the same transaction; paging stops
  at an empty page, or after ``MAX_PAGES`` pages (the rest comes with the next round); a non-empty page whose
  cursor does not move on is an error of the central (TransientError), never a loop. A crash between two pages repeats at most one page, and applying a page twice is harmless.
- A document's file is fetched by sha256 into ``<data_dir>/files/<sha256>.part``, resumed with
  ``Range: bytes=<have>-`` after a cut, verified against the sha256 before it is renamed into place; a file
  whose bytes do not match is discarded and fetched again from the start.
- A download is bounded by the document's announced size (:data:`MAX_FILE_BYTES` when none is announced):
  more bytes than that are refused, and so is an answer slower than ``timeout_s`` plus the time the rest of
  the file takes at :data:`MIN_FILE_RATE` (what has arrived is kept, the next round resumes).
- A file that fails (the central answers 404, the bytes do not match, the download is cut) is recorded per
  file and tried again on its own schedule (:func:`gateway.store.files.retry_delay_s`); it never fails the
  round, so the uplink and the other changes go on. Only refused credentials or clock stop the lot.
- Each changes request reports the gateway's backlog and its missing and failing files to the central; the
  first of a round also its health and its nodes' health (:mod:`sync.client.report`), when a ``reporter``
  says they are due (without one, always).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3

from gateway import faults, private
from gateway.store import Store, files
from sync import protocol
from sync.client import report
from sync.client.errors import (
    ClockSkewRefused,
    CredentialError,
    SyncError,
    TransientError,
    UnreachableError,
)
from sync.client.transport import CentralLink, release

log = logging.getLogger(__name__)

CHUNK = 64 << 10
MAX_FILE_BYTES = 1 << 30  # a file whose document announces no size
MIN_FILE_RATE = 2048  # bytes/s: a download slower than this on average is stopped (and resumed next round)
SUCCESS_EVERY_S = 300  # downlink_last_success is renewed at most this often (the doctor looks for 15 min)
MAX_PAGES = (
    200  # pages of one round at most (100,000 changes at the central's 500 a page): the rest next round
)


def pull_changes(
    store: Store,
    central: CentralLink,
    should_stop: Callable[[], bool] = lambda: False,
    health: Mapping[str, Any] | None = None,
    reporter: report.Reporter | None = None,
) -> int:
    """Apply the central's changes since the stored cursor; returns how many were applied.

    The requests report the backlog, the documents' files, and the first of them (:mod:`sync.client.report`)
    the gateway's and its nodes' health when ``reporter`` says they are due (every round without one);
    ``health`` adds values from the configuration (``sync_s``, the alert thresholds).
    """
    applied = 0
    backlog_info = store.backlog()
    backlog = {stream: info["pending"] for stream, info in backlog_info.items()}
    summary = store.files_summary()
    report_headers = {
        protocol.HEADER_BACKLOG: protocol.format_backlog(backlog),
        protocol.HEADER_FILES: protocol.format_files(
            {"missing": summary["missing"], "failing": summary["failing"]}
        ),
    }
    health_headers = (
        reporter.headers(store, backlog_info, health or {})
        if reporter is not None
        else report.headers(store, backlog_info, health or {})
    )
    for _ in range(MAX_PAGES):
        if should_stop():
            break
        cursor = store.get_meta("changes_cursor") or ""
        answer = central.get_json(
            f"/api/v1/changes?since={quote(cursor, safe='')}", headers={**report_headers, **health_headers}
        )
        if health_headers:  # told once a round: the next pages need not repeat it
            health_headers = {}
            if reporter is not None:
                reporter.sent()
        changes, new_cursor = answer.get("changes"), answer.get("cursor")
        if not isinstance(changes, list) or not isinstance(new_cursor, str | int):
            raise TransientError("the central's changes answer is not understood")
        if not changes:
            if str(new_cursor) != cursor:
                store.apply_changes([], str(new_cursor))
            break
        if str(new_cursor) == cursor:  # the same page again and again: a fault of the central, not news
            raise TransientError(
                f"the central answered a page of {len(changes)} change(s) without moving the cursor "
                f"({cursor!r:.40}): changes stopped for this round"
            )
        store.apply_changes(changes, str(new_cursor))
        faults.point("downlink.applied")
        applied += len(changes)
    else:  # the cap: the rest comes with the next round; not "up to date" yet
        log.warning("changes: %d pages in one round, the rest comes with the next round", MAX_PAGES)
        return applied
    if not should_stop():  # the feed answered to its end: the downlink works now, whether or not it had news
        _note_success(store)
    return applied


def _note_success(store: Store) -> None:
    """Record that the changes feed answered to its end: ``downlink_last_success`` (ms), renewed at most every
    :data:`SUCCESS_EVERY_S` while it keeps working (each write is a page on the SD card: a round a minute
    rewrote it 1,440 times a day), at once after an error (which it clears) or a stamp not in the past."""
    now = _now_ms()
    last = store.get_meta("downlink_last_success")
    failed = store.get_meta("downlink_last_error") is not None
    if failed or not last or not last.isdigit() or not 0 <= now - int(last) < SUCCESS_EVERY_S * 1000:
        store.set_meta("downlink_last_success", str(now))
    if failed:
        store.set_meta("downlink_last_error", None)


def fetch_files(
    store: Store,
    central: CentralLink,
    data_dir: Path,
    should_stop: Callable[[], bool] = lambda: False,
    now_ms: int | None = None,
) -> int:
    """Fetch every document file whose turn it is (:meth:`gateway.store.Store.files_due`); returns how many arrived.

    A file that fails is recorded (attempts, error) and waits for its own next attempt; the others go on. When
    the central cannot be reached at all, the rest wait for the next round. Nothing here fails the round but
    refused credentials or clock (CredentialError, ClockSkewRefused), which are raised.
    """
    fetched = 0
    for sha256, size in store.files_due(now_ms):
        if should_stop():
            break
        target = files.file_path(data_dir, sha256)
        if target.exists() and _sha256_of(target) == sha256:  # e.g. fetched before a crash
            store.mark_file_fetched(sha256, target.stat().st_size)
            continue
        try:
            fetch_file(central, sha256, target, size)
        except (CredentialError, ClockSkewRefused):
            raise
        except SyncError as err:
            reason = str(err)
            if isinstance(err, TransientError) and err.status == 404:
                reason = "the central has no such file (404)"
            store.mark_file_failed(sha256, reason)
            log.warning("document file %s… not fetched: %s", sha256[:12], reason)
            if isinstance(err, UnreachableError):
                break  # the central is gone for now: the other files wait for the next round
            continue
        store.mark_file_fetched(sha256, target.stat().st_size)
        fetched += 1
    return fetched


class MismatchError(TransientError):
    """The bytes fetched do not hash to the document's sha256 (discarded; fetched again later)."""


class OversizeError(MismatchError):
    """The central (or something in between) sends more bytes than the document announced: refused."""


def fetch_file(central: CentralLink, sha256: str, target: Path, size: int | None = None) -> None:
    """Fetch one file into ``target`` through ``target.part``, resuming what a previous attempt left."""
    private.ensure_dir(target.parent)  # 0700, whatever the umask
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    complete = have > 0 and (size is None or have >= size) and _sha256_of(part) == sha256
    if not complete:
        if size is not None and have >= size:
            part.unlink()  # as long as the file and still wrong: start again
            have = 0
        _download(central, sha256, part, have, size)
    actual = _sha256_of(part)
    if actual != sha256:
        part.unlink()
        raise MismatchError(f"file {sha256[:12]}… arrived with sha256 {actual[:12]}…: discarded")
    with part.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(part, target)


def _download(central: CentralLink, sha256: str, part: Path, have: int, size: int | None = None) -> None:
    """Append the bytes from ``have`` on to ``part`` (all of them on a 200), never beyond ``size`` bytes in
    all and within the time :func:`_allowed_s` gives; raises TransientError otherwise."""
    headers = {"Accept-Encoding": "identity"}  # the bytes as stored: what the sha256 and Range refer to
    if have:
        headers["Range"] = f"bytes={have}-"
    limit = MAX_FILE_BYTES if size is None else size
    response = central.request("GET", f"/api/v1/files/{sha256}", headers=headers)
    complete = False
    try:
        resumed = response.status == 206
        start = have if resumed else 0  # a 200 is the whole file again
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise TransientError(f"file {sha256[:12]}… arrived encoded as {encoding!r}: refused")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and start + int(declared) > limit:
            raise OversizeError(_too_large(sha256, start + int(declared), limit))
        deadline = time.monotonic() + _allowed_s(central.timeout_s, limit - start)
        with part.open("ab" if resumed else "wb") as out:
            try:
                # read1: whatever has arrived, so that a cut keeps every byte received before it
                while chunk := response.read1(CHUNK, decode_content=False):
                    if out.tell() + len(chunk) > limit:
                        raise OversizeError(_too_large(sha256, out.tell() + len(chunk), limit))
                    out.write(chunk)
                    if time.monotonic() > deadline:
                        raise TransientError(
                            f"file {sha256[:12]}… arrives too slowly ({out.tell()} of {limit} bytes so far): "
                            "stopped, the rest next round"
                        )
                complete = True
            except (urllib3.exceptions.HTTPError, OSError) as err:
                raise TransientError(f"file {sha256[:12]}… cut after {out.tell()} bytes: {err}") from err
    finally:
        release(response, complete)


def _allowed_s(timeout_s: float, remaining: int) -> float:
    """How long the rest of a file may take: the answer timeout plus the rest at :data:`MIN_FILE_RATE`."""
    return timeout_s + max(0, remaining) / MIN_FILE_RATE


def _too_large(sha256: str, count: int, limit: int) -> str:
    return (
        f"file {sha256[:12]}… is larger than announced ({count} bytes or more, announced {limit}): refused "
        "(a captive portal or a faulty proxy between the gateway and the central can cause this)"
    )


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
