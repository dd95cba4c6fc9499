"""Reading aloud ("Dengarkan"): the kiosk's own texts spoken with espeak-ng, offline, made on the kiosk.

The kiosk only ever speaks text it rendered itself. A page registers the text it shows (:func:`readable_text`
of its main region, a form field's label, hint and error) with :meth:`Speech.register`, which answers a key,
``sha256("<lang>\\n<text>")`` in hex; the page's button asks ``/dengarkan/<lang>/<key>.wav``. A key the kiosk
never registered (or has since forgotten) is a 404: no client can make the kiosk synthesize a string of its
choosing.

Passages of pages that are not public (a receipt, a status with its answer: they may hold personal data) are
*private*: registered with the session's owner token, spoken only to that session, never written to disk, and
forgotten at the idle reset (:meth:`Speech.forget`). Their audio is kept in memory for that session (within
``private_bytes`` in all, the least recently used dropped first, and forgotten at the idle reset too), so that
a session asking again is served without a new synthesis; a session has at most one synthesis running: a
second request while it runs is refused (:class:`SpeechBusy`), never queued. Public passages are cached as WAV files under
``<data_dir>/speech/`` (folder 0700), named by language and key, within a size bound: the least recently used
files are deleted first. Passages of pages that show live values (the conditions page, a flood warning's water
level) are *volatile*: their text changes with every new reading, so each would be a new file; their audio is
kept in memory only (within ``volatile_bytes``, the least recently used dropped first), never on the SD card.

The audio is made smaller than espeak-ng's own (22050 Hz, 16-bit): 11025 Hz, 8-bit unsigned PCM WAV
(:func:`compact_wav`, standard library only), a quarter of the bytes; every browser plays it, and espeak-ng's
voice has little above 5 kHz.

espeak-ng (Debian's package ``espeak-ng``) is run as ``espeak-ng -v <voice> --stdout --stdin`` with the text
on its standard input (never on its command line), one synthesis at a time, each within a time bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import subprocess
import threading
import unicodedata
import wave
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from cachetools import LRUCache

from gateway import private

log = logging.getLogger(__name__)

VOICES = {"id": "id", "en": "en"}  # kiosk language -> espeak-ng voice
KEY_RE = re.compile(r"[0-9a-f]{64}")
MAX_CHARS = 4_000  # a passage longer than this is cut (at a sentence or a word) and ends with "..."
# 4,000 characters are about six minutes of speech, a WAV of 4-5 MiB (compact_wav; numbers read as words make
# it longer): a huge page cannot make more
RATE_HZ = 11_025  # the audio the kiosk sends: espeak-ng's 22050 Hz halved, 8-bit (compact_wav)
ELLIPSIS = " ..."
WORDS_PER_MINUTE = 150  # a little slower than espeak-ng's 175: easier to follow at a public screen


class SpeechUnavailable(Exception):
    """espeak-ng is missing, failed, or took longer than the bound."""


class SpeechBusy(Exception):
    """The session asking already has a synthesis running (one at a time per session); ask again later."""


@dataclass(frozen=True)
class Passage:
    """A registered text: ``text`` to speak in ``lang`` (``id``/``en``); ``owner`` is the session token a
    private passage belongs to (None for a public one); ``volatile``: a public passage of live values (kept in
    memory only)."""

    text: str
    lang: str
    owner: str | None
    volatile: bool = False  # a page of live values: its audio is kept in memory only, never on disk


def passage_key(lang: str, text: str) -> str:
    """The key of ``text`` in ``lang``: sha256 of ``"<lang>\\n<text>"``, 64 hex digits."""
    return hashlib.sha256(f"{lang}\n{text}".encode()).hexdigest()


class Speech:
    """The kiosk's reader: registered passages (in memory, at most ``max_passages``), the WAV cache in
    ``cache_dir`` (at most ``max_bytes`` in all) and the espeak-ng runner (``espeak``, a command name or path;
    each run bounded by ``timeout`` seconds); the audio of private passages is kept in memory per session, at
    most ``private_bytes`` in all, and that of volatile passages at most ``volatile_bytes``. Thread-safe."""

    def __init__(
        self,
        cache_dir: Path,
        max_bytes: int,
        timeout: float = 30.0,
        espeak: str = "espeak-ng",
        max_passages: int = 4096,
        private_bytes: int = 32 * 1024 * 1024,
        volatile_bytes: int = 8 * 1024 * 1024,
    ):
        self.cache_dir = Path(cache_dir)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.espeak = espeak
        self._passages: LRUCache[str, Passage] = LRUCache(max_passages)
        self._lock = threading.Lock()  # around _passages
        self._synth = threading.Lock()  # one espeak-ng at a time: the Pi has few cores to spare
        # (owner, lang, key) -> WAV bytes of a private passage; bounded by their size in bytes
        self._private: LRUCache[tuple[str, str, str], bytes] = LRUCache(private_bytes, getsizeof=len)
        # (lang, key) -> WAV bytes of a volatile passage; bounded by their size in bytes
        self._volatile: LRUCache[tuple[str, str], bytes] = LRUCache(volatile_bytes, getsizeof=len)
        self._public = threading.Lock()  # a public passage is made once, then read from its file (or memory)
        self._running: set[str] = set()  # the owners with a synthesis running now

    def register(self, text: str, lang: str, owner: str | None = None, volatile: bool = False) -> str:
        """Remember ``text`` (normalized, cut to :data:`MAX_CHARS`) as speakable in ``lang``; returns its key.
        ``owner`` makes it private to that session token; ``volatile`` (a page of live values) keeps a public
        passage's audio in memory only. Raises ValueError for a language without a voice."""
        if lang not in VOICES:
            raise ValueError(f"no voice for language {lang!r}")
        text = _cut(text)
        key = passage_key(lang, text)
        with self._lock:
            known = self._passages.get(key)
            # a text that is also public stays public; a private one is the latest session's that showed it
            if known is None or (known.owner is not None and known.owner != owner):
                self._passages[key] = Passage(text, lang, owner, volatile and owner is None)
            elif known.owner is None and known.volatile and not volatile:  # also shown on a stable page
                self._passages[key] = Passage(text, lang, None)
        return key

    def passage(self, key: str) -> Passage | None:
        """The registered passage of ``key``, or None."""
        with self._lock:
            return self._passages.get(key)

    def forget(self, owner: str) -> int:
        """Drop every passage private to session token ``owner`` (the idle reset), and their audio kept in
        memory; returns how many passages."""
        with self._lock:
            keys = [k for k, p in self._passages.items() if p.owner == owner]
            for key in keys:
                del self._passages[key]
            for held in [h for h in self._private if h[0] == owner]:
                del self._private[held]
        return len(keys)

    def private_bytes(self) -> int:
        """The bytes of private audio kept in memory now."""
        with self._lock:
            return int(self._private.currsize)

    def volatile_bytes(self) -> int:
        """The bytes of volatile audio kept in memory now."""
        with self._lock:
            return int(self._volatile.currsize)

    def cached(self, lang: str, key: str) -> Path | None:
        """The cached WAV file of public passage ``key`` in ``lang`` (its use noted, so that the trim keeps it),
        or None when there is none (not made yet, private, volatile, or not a well-formed key)."""
        if lang not in VOICES or not KEY_RE.fullmatch(key):
            return None
        with self._lock:
            passage = self._passages.get(key)
        if passage is not None and (passage.owner is not None or passage.volatile):
            return None
        path = self.cache_dir / f"{lang}-{key}.wav"
        try:
            os.utime(path)
        except OSError:
            return None
        return path

    def audio(self, lang: str, key: str, owner: str | None) -> tuple[bytes, bool] | None:
        """The WAV bytes of passage ``key`` in ``lang`` and whether it may be kept (public and not volatile: the
        browser may cache it), or None when the kiosk does not know that passage for this caller (never
        registered, forgotten, or private to another session). A private passage is synthesized once per
        session and then served from memory; a volatile one once, then served from memory. Raises
        :class:`SpeechUnavailable` when espeak-ng cannot speak it, :class:`SpeechBusy` when the passage is
        private and its session has a synthesis running already."""
        if lang not in VOICES or not KEY_RE.fullmatch(key):
            return None
        with self._lock:
            passage = self._passages.get(key)
        path = self.cache_dir / f"{lang}-{key}.wav"
        if passage is None or (passage.owner is None and not passage.volatile):
            cached = _read(path)
            if cached is not None:
                return cached, True
        if passage is None or passage.lang != lang:
            return None
        if passage.owner is None and passage.volatile:
            return self._volatile_audio(passage, lang, key), False
        if passage.owner is None:
            with self._public:  # made meanwhile by a request that came first: served from its file
                cached = _read(path)
                if cached is not None:
                    return cached, True
                wav = self.synthesize(passage.text, lang)
                self._store(path, wav)
            return wav, True
        if passage.owner != owner:
            return None
        return self._private_audio(passage, lang, key), False

    def _volatile_audio(self, passage: Passage, lang: str, key: str) -> bytes:
        with self._public:  # made meanwhile by a request that came first: served from memory
            with self._lock:
                wav = self._volatile.get((lang, key))
            if wav is not None:
                return wav
            wav = self.synthesize(passage.text, lang)
            with self._lock, contextlib.suppress(ValueError):  # larger than the whole bound: not kept
                self._volatile[(lang, key)] = wav
        return wav

    def _private_audio(self, passage: Passage, lang: str, key: str) -> bytes:
        owner = passage.owner
        assert owner is not None
        held = (owner, lang, key)
        with self._lock:
            wav = self._private.get(held)
            if wav is not None:
                return wav
            if owner in self._running:
                raise SpeechBusy("this session's reading is being made")
            self._running.add(owner)
        try:
            wav = self.synthesize(passage.text, lang)
        finally:
            with self._lock:
                self._running.discard(owner)
        with self._lock:
            if self._passages.get(key) == passage:  # not forgotten meanwhile (the idle reset)
                with contextlib.suppress(ValueError):  # larger than the whole bound: not kept
                    self._private[held] = wav
        return wav

    def synthesize(self, text: str, lang: str) -> bytes:
        """``text`` spoken in ``lang`` as a WAV file (mono, :data:`RATE_HZ` Hz, 8-bit: :func:`compact_wav` of
        espeak-ng's 22050 Hz 16-bit). Raises :class:`SpeechUnavailable`."""
        command = [
            self.espeak,
            "-v",
            VOICES[lang],
            "-s",
            str(WORDS_PER_MINUTE),
            "-b",
            "1",
            "--stdout",
            "--stdin",
        ]
        with self._synth:
            try:
                done = subprocess.run(
                    command, input=text.encode(), capture_output=True, timeout=self.timeout, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as err:
                raise SpeechUnavailable(f"espeak-ng: {err}") from err
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            raise SpeechUnavailable(f"espeak-ng exited {done.returncode}: {done.stderr[:200]!r}")
        try:
            return compact_wav(done.stdout)
        except ValueError as err:
            raise SpeechUnavailable(f"espeak-ng's audio: {err}") from err

    def _store(self, path: Path, wav: bytes) -> None:
        """Keep ``wav`` at ``path`` (written whole, then renamed), then trim the cache to its bound."""
        try:
            private.ensure_dir(self.cache_dir)
            part = path.with_name(path.name + f".{threading.get_ident()}.part")
            part.write_bytes(wav)
            part.replace(path)
            self._trim()
        except OSError as err:  # a full or read-only disk: the citizen still hears it
            log.warning("speech cache not written: %s", err)

    def _trim(self) -> None:
        files = []
        for entry in os.scandir(self.cache_dir):
            if entry.name.endswith(".wav"):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, name in sorted(files):  # oldest use first
            if total <= self.max_bytes:
                break
            try:
                os.unlink(name)
                total -= size
            except FileNotFoundError:
                pass

    def cached_bytes(self) -> int:
        """The bytes the WAV cache holds now."""
        if not self.cache_dir.is_dir():
            return 0
        return sum(e.stat().st_size for e in os.scandir(self.cache_dir) if e.name.endswith(".wav"))


def compact_wav(wav: bytes) -> bytes:
    """A mono 16-bit PCM WAV (espeak-ng's ``--stdout``: its sizes may be placeholders, the data runs to the end)
    as a WAV of half its rate, 8-bit unsigned PCM: a quarter of the bytes. Each output sample is the mean of two
    input samples (a simple low-pass before halving the rate), to 8 bits by its high byte; done on whole byte
    strings (slices, ``bytes.translate``, one big-integer sum), not sample by sample. Raises ValueError when
    ``wav`` is not a mono 16-bit PCM WAV."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, data = 12, 0, b""
    while pos + 8 <= len(wav):
        chunk, size = wav[pos : pos + 4], int.from_bytes(wav[pos + 4 : pos + 8], "little")
        body = wav[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            fmt, channels = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
            rate, bits = int.from_bytes(body[4:8], "little"), int.from_bytes(body[14:16], "little")
            if (fmt, channels, bits) != (1, 1, 16):
                raise ValueError(f"not mono 16-bit PCM (format {fmt}, {channels} channels, {bits} bits)")
        elif chunk == b"data":
            data = body  # a placeholder size (a stream) reads to the end
            break
        pos += 8 + size + (size & 1)
    if not rate:
        raise ValueError("no format chunk before the data")
    high = data[1 : len(data) - len(data) % 4 : 2].translate(_SIGN_FLIP)  # each sample's high byte, 0..255
    first, second = high[0::2], high[1::2]
    a, b = int.from_bytes(first, "little"), int.from_bytes(second, "little")
    # the bytewise mean floor((a + b) / 2) = (a & b) + ((a ^ b) >> 1), the shifted-in bits masked off
    mean = (a & b) + (((a ^ b) >> 1) & int.from_bytes(b"\x7f" * len(first), "little"))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate // 2)
        w.writeframes(mean.to_bytes(len(first), "little"))
    return out.getvalue()


_SIGN_FLIP = bytes(i ^ 0x80 for i in range(256))  # a signed byte to 8-bit WAV's unsigned (offset 128)


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # a use: the trim deletes the least recently used first
    return data


def _cut(text: str) -> str:
    """``text`` with its spaces normalized, at most :data:`MAX_CHARS` characters plus :data:`ELLIPSIS`: a
    longer one is cut at its last sentence (or else word) within the bound, and ends with the ellipsis."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= MAX_CHARS:
        return text
    head = text[:MAX_CHARS]
    end = head.rfind(". ")
    if end > MAX_CHARS // 2:
        return head[: end + 1] + ELLIPSIS
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head) + ELLIPSIS


# -- the text of a page -----------------------------------------------------------------------------------------

_SKIP = {"script", "style", "template", "form", "button", "input", "select", "textarea", "svg", "noscript"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_BLOCK = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dd", "tr", "td", "th", "section", "article",
    "figcaption", "br", "ul", "ol", "dl", "table", "header", "footer", "figure", "blockquote", "pre", "main",
    "nav", "a",
}  # fmt: skip


# inline elements the kiosk's style shows as lines of their own (a tile's title and text, a reading's parts, a
# warning's heading)
_LINE_CLASSES = {
    "tile-title", "tile-sub", "tile-count", "reading-label", "reading-value", "reading-state", "survey-name",
    "survey-answer", "alert-title",
}  # fmt: skip
_SYMBOLS = ("So", "Sm", "Sk")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool, bool]] = []  # (tag, skipped, spelled, a line of its own)
        self.chunks: list[str] = []
        self.current: list[str] = []

    def _skipping(self) -> bool:
        return any(entry[1] for entry in self.stack)

    def _spelling(self) -> bool:
        return any(entry[2] for entry in self.stack)

    def _flush(self, end: str = ".") -> None:
        chunk = "".join(ch for ch in "".join(self.current) if unicodedata.category(ch) not in _SYMBOLS)
        chunk = " ".join(chunk.split())
        self.current = []
        if chunk:
            self.chunks.append(chunk if chunk[-1] in ".!?:;," else chunk + end)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        skip = (
            (tag in _SKIP and not (tag == "form" and "data-read" in names))
            or "hidden" in names
            or names.get("aria-hidden") == "true"
            or "data-read-skip" in names
            or "data-read-secret" in names
        )
        instead = names.get("data-read-secret")
        if instead and not self._skipping():  # a secret's own words are never read; its notice is
            self._flush()
            self.current.append(instead)
            self._flush()
        if tag == "img" and not skip and not self._skipping() and names.get("alt"):
            self._flush()
            self.current.append(names["alt"] or "")
            self._flush()
        if tag in _BLOCK or _LINE_CLASSES.intersection((names.get("class") or "").split()):
            self._flush()
        if tag not in _VOID:
            line = bool(_LINE_CLASSES.intersection((names.get("class") or "").split()))
            self.stack.append((tag, skip, "data-read-spell" in names, line))

    def handle_endtag(self, tag: str) -> None:
        if tag == "dt":
            self._flush(":")
        elif tag in _BLOCK:
            self._flush()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                if self.stack[i][3]:
                    self._flush()
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._skipping():
            return
        if self._spelling():
            data = spell(data)
        self.current.append(data)


def spell(text: str) -> str:
    """``text`` as characters to be read one by one: ``7KQ2M-9XD4H`` -> ``7 K Q 2 M, 9 X D 4 H``."""
    groups = [" ".join(ch for ch in group if not ch.isspace()) for group in re.split(r"[-\s]+", text.strip())]
    return ", ".join(g for g in groups if g)


def readable_text(html: str) -> str:
    """The text a citizen sees in the HTML fragment ``html``, as sentences to be read aloud.

    Left out: scripts, styles, forms (but for the words of one marked ``data-read``, a questionnaire) and their
    controls, buttons, SVG, and elements marked
    ``hidden``, ``aria-hidden="true"`` or ``data-read-skip``; an image counts by its ``alt``. An element marked
    ``data-read-secret`` (a status code: anyone near the kiosk would hear it) is never read, whatever it
    holds; the attribute's value, when given, is read in its place (``data-read-secret="the status code is
    printed on your slip"``). Each block ends a
    sentence, and so does each link (a full stop is added when it has none; a ``<dt>`` ends with a colon); an element marked
    ``data-read-spell`` is read character by character. Symbols (Unicode So, Sm, Sk: arrows, check marks,
    icons) are dropped.
    """
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader._flush()
    return " ".join(reader.chunks)
