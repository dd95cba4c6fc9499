"""The ingest's journal: serial frames of the open group kept on tmpfs until their commit.

With ``[gateway] commit_interval_s`` the writer gathers frames before committing them together. Serial nodes
never send a frame again, so each batch of valid serial lines is appended to the journal *before* it joins the
group, and forgotten once its commit is done (the journal is truncated when nothing in it waits any more). The
journal lives in ``[gateway] journal_dir`` (``/run/anjungan`` in the field: systemd's ``RuntimeDirectory=``, a
tmpfs that survives a crash and a restart of the process but not a reboot, and costs the SD card nothing).

On start, before the ports are read, the ingest takes over the journals of ingests that are gone: their
entries are copied into its own journal and submitted again, and their files removed. The store's dedup key
(node, boot, q) makes the replay idempotent: a frame that was committed before the crash is not stored twice.

Files, in the journal folder, for one ingest process (``<store>`` is a hash of the store's path, so that
several stores may share a folder; ``<id>`` is the process's own):

- ``ingest-<store>-<id>.lock``: an exclusive ``flock`` held for as long as the process lives (the kernel drops
  it when the process dies, however it dies). A journal whose lock can be taken belongs to a dead ingest;
  two ingests of one store each keep and replay only their own (and the dead ones').
- ``ingest-<store>-<id>.journal``: one line per batch, ASCII JSON ``{"s": source, "at": ms since the epoch,
  "b": clock epoch ms, "l": [lines]}`` (a line's bytes decoded as UTF-8 with ``surrogateescape``). Appended
  with one ``write``; compacted by writing a new file and renaming it over the old one.

A line that cannot be read back (the last one, torn by a crash in the middle of its ``write``, or a damaged
one) is skipped with a log line and counted in :attr:`Journal.torn`. When an entry cannot be written (the
folder's file system is full, an I/O error), the frames are committed at once instead (``urgent``), with one
warning for as long as that lasts, and counted in :attr:`Journal.failed`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import StoreRefusedError
from gateway.warnonce import WarnOnce

log = logging.getLogger(__name__)

COMPACT_BYTES = 64 * 1024  # a journal larger than this is rewritten with only what still waits


@dataclass(frozen=True)
class Entry:
    """One batch of serial lines: ``source`` (the port), ``at`` (arrival, ms since the epoch), ``base`` (the
    clock epoch, wall - monotonic in ms, when ``at`` was taken), ``lines`` (each without its ``\\n``)."""

    source: str
    at: int
    base: int
    lines: tuple[bytes, ...]

    def encode(self) -> bytes:
        """The entry as one journal line (ASCII, ending in ``\\n``)."""
        obj = {
            "s": self.source,
            "at": self.at,
            "b": self.base,
            "l": [line.decode("utf-8", "surrogateescape") for line in self.lines],
        }
        return (json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")

    @classmethod
    def decode(cls, text: bytes) -> Entry:
        """The entry of one journal line (without its ``\\n``); raises ValueError if it is not one."""
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        source, at, base, lines = obj.get("s"), obj.get("at"), obj.get("b"), obj.get("l")
        if not isinstance(source, str) or not isinstance(at, int) or not isinstance(base, int):
            raise ValueError("no source, time or clock epoch")
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise ValueError("no lines")
        return cls(source, at, base, tuple(line.encode("utf-8", "surrogateescape") for line in lines))


def store_tag(store_path: Path) -> str:
    """A short name of the store at ``store_path`` (12 hex digits of a hash of its absolute path)."""
    return hashlib.sha256(str(Path(store_path).absolute()).encode()).hexdigest()[:12]


def read_entries(path: Path) -> tuple[list[Entry], int]:
    """The entries of the journal file ``path`` and how many lines were skipped (torn or damaged).

    A missing file holds nothing. Raises OSError if the file exists and cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    entries: list[Entry] = []
    torn = 0
    lines = data.split(b"\n")
    last = lines.pop()  # after the last newline: empty, or a line whose write was cut short
    if last:
        torn += 1
        log.warning("journal %s: the last line is torn (%d bytes, no end): skipped", path.name, len(last))
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            entries.append(Entry.decode(line))
        except ValueError as err:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            torn += 1
            log.warning("journal %s: line %d cannot be read (%s): skipped", path.name, number, err)
    return entries, torn


class Journal:
    """The journal of one ingest process in ``folder`` for the store at ``store_path``.

    :meth:`open` creates the folder (mode 0700) and the process's locked files; :meth:`take_over` returns the
    entries of the journals of dead ingests (copied into this one first); :meth:`add` appends an entry before
    its frames are submitted and :meth:`track` forgets it once its Future is done; :meth:`close` removes the
    files when nothing waits (otherwise leaves them for the next start). Safe to share between threads.

    Figures: ``torn`` (lines skipped when taking over), ``failed`` (entries that could not be written),
    ``replayed`` (entries taken over), ``waiting`` (entries not yet committed).
    """

    def __init__(self, folder: Path, store_path: Path):
        self.folder = Path(folder)
        self.tag = store_tag(store_path)
        self.torn = 0
        self.failed = 0
        self.replayed = 0
        self._lock = threading.Lock()
        self._waiting: dict[int, bytes] = {}  # entry id -> its journal line, until its commit is done
        self._next_id = 0
        self._size = 0
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._name = ""
        self._trouble = WarnOnce(log, f"journal in {self.folder}")

    @property
    def path(self) -> Path:
        """This process's journal file."""
        return self.folder / f"{self._name}.journal"

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def open(self) -> Journal:
        """Create the folder and this process's files. Raises OSError if the folder cannot be written."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._name = f"ingest-{self.tag}-{os.getpid()}-{secrets.token_hex(4)}"
        # locked under a name no other ingest looks at, then renamed: a lock file found is always locked
        hidden = self.folder / f".new-{self._name}.lock"
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(hidden, self.folder / f"{self._name}.lock")
        self._lock_fd = fd
        self._fd = self._open_journal()
        return self

    def _open_journal(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def close(self) -> None:
        """Remove this process's files if nothing waits; otherwise keep them for the next start (idempotent)."""
        with self._lock:
            if self._lock_fd is None:
                return
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if not self._waiting:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / f"{self._name}.lock").unlink()
            else:
                log.warning(
                    "journal: %d batches of serial frames were not saved; kept in %s for the next start",
                    len(self._waiting),
                    self.path,
                )
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- taking over -----------------------------------------------------------------------------------------
    def take_over(self) -> list[tuple[int | None, Entry]]:
        """The entries of the journals of this store's dead ingests, each with its id in this journal (they
        are copied into it before the old files go, so a crash now loses nothing; None when it could not be
        written): submit their frames and :meth:`track` them.

        A journal still locked belongs to a live ingest and is left alone. Raises OSError if the folder
        cannot be read.
        """
        taken: list[tuple[int | None, Entry]] = []
        for lock_path in sorted(self.folder.glob(f"ingest-{self.tag}-*.lock")):
            if lock_path.stem == self._name:
                continue
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # another ingest took it over just now
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its ingest runs
                if not lock_path.exists():  # taken over by another ingest between the glob and the lock
                    continue
                journal = lock_path.with_suffix(".journal")
                entries, torn = read_entries(journal)
                self.torn += torn
                taken += [(self._append(entry.encode()), entry) for entry in entries]  # before the file goes
                if entries or torn:
                    log.warning(
                        "journal: %d batches of serial frames left by an ingest that stopped without saving "
                        "them (%s); saving them now%s",
                        len(entries),
                        journal.name,
                        f", {torn} torn or damaged lines skipped" if torn else "",
                    )
                with contextlib.suppress(FileNotFoundError):
                    journal.unlink()
                lock_path.unlink()
            finally:
                os.close(fd)
        self._sweep()
        self.replayed += len(taken)
        return taken

    def _sweep(self) -> None:
        """Remove the empty journals that dead ingests of other stores left (a store that is never started
        again, such as a test's); one that holds entries waits for its own store's ingest."""
        for lock_path in self.folder.glob("ingest-*.lock"):
            if lock_path.name.startswith(f"ingest-{self.tag}-"):
                continue
            journal = lock_path.with_suffix(".journal")
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if lock_path.exists() and (not journal.exists() or journal.stat().st_size == 0):
                    with contextlib.suppress(FileNotFoundError):
                        journal.unlink()
                    lock_path.unlink()
            except OSError:
                pass  # its ingest runs, or it went meanwhile
            finally:
                os.close(fd)

    # -- while running ---------------------------------------------------------------------------------------
    def add(self, entry: Entry) -> int | None:
        """Append ``entry``; its id (for :meth:`track`), or None when it could not be written (then the
        frames must be committed at once: nothing else keeps them)."""
        return self._append(entry.encode())

    def _append(self, line: bytes) -> int | None:
        with self._lock:
            if self._fd is None:
                return None
            try:
                written = os.write(self._fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write")
            except OSError as err:
                self.failed += 1
                with contextlib.suppress(OSError):  # no half line before the next entry
                    os.ftruncate(self._fd, self._size)
                self._trouble.failed(f"cannot write ({err.strerror or err}); serial frames are saved at once")
                return None
            self._size += len(line)
            self._trouble.recovered("written again")
            entry_id = self._next_id
            self._next_id += 1
            self._waiting[entry_id] = line
            return entry_id

    def track(self, entry_id: int, future: Future[int]) -> None:
        """Forget entry ``entry_id`` once ``future`` (its frames' commit) is done: saved, or refused for good.
        A failure for any other reason (the writer closed before saving them) keeps it for the next start."""
        future.add_done_callback(lambda done: self._done(entry_id, done))

    def forget(self, entry_id: int) -> None:
        """Forget entry ``entry_id`` now (it holds nothing to save)."""
        self._forget(entry_id)

    def _done(self, entry_id: int, future: Future[int]) -> None:
        err = future.exception()
        if err is None or isinstance(err, StoreRefusedError):
            self._forget(entry_id)

    def _forget(self, entry_id: int) -> None:
        with self._lock:
            self._waiting.pop(entry_id, None)
            if self._fd is None:
                return
            try:
                if not self._waiting:
                    os.ftruncate(self._fd, 0)
                    self._size = 0
                elif self._size > COMPACT_BYTES:
                    self._compact()
            except OSError as err:  # what stays in the journal is replayed without harm
                self._trouble.failed(f"cannot truncate ({err.strerror or err})")

    def _compact(self) -> None:
        """Write what still waits to a new file and rename it over the journal (under the lock)."""
        assert self._fd is not None
        data = b"".join(self._waiting.values())
        new = self.folder / f".new-{self._name}.journal"
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(new, self.path)
        os.close(self._fd)
        self._fd = self._open_journal()
        self._size = len(data)
