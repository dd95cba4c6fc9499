"""The sync protocol shared by the gateway's sync client and the central: signing, batch bodies, errors.

Standard library only (plus :mod:`gateway.errors`, :mod:`gateway.regno` and :mod:`gateway.statuscode`), so both
ends import exactly the same rules.
docs/protocol.md describes the wire formats.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
import math
import operator
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeGuard

from gateway import regno, statuscode
from gateway.errors import AnjunganError
from gateway.vocabulary import READING_KEYS, STREAMS, SUBMISSION_KINDS, Stream

API_PREFIX = "/api/v1"
HEADER_GATEWAY = "X-Anjungan-Gateway"
HEADER_TIMESTAMP = "X-Anjungan-Timestamp"
HEADER_SIGNATURE = "X-Anjungan-Signature"
# Informational, on GET /changes: what the gateway still has to send, e.g. "submissions=0,events=2,readings=950"
HEADER_BACKLOG = "X-Anjungan-Backlog"
MAX_SKEW_S = 300
COLUMNAR_VERSION = 1
CONTENT_TYPE = "application/json"

_NODE_RE = re.compile(r"[a-z0-9-]{1,32}\Z")
_NAME_RE = re.compile(r"[a-z0-9_]{1,32}\Z")
_MAX_SCALE = 9


class ProtocolError(AnjunganError):
    """A malformed batch or request body (answered with 400)."""

    status = 400


class BodyTooLargeError(ProtocolError):
    """A request body that is, or inflates to, more than the receiver accepts (answered with 413)."""

    status = 413


class SignatureError(AnjunganError):
    """A missing or wrong request signature (answered with 401, error ``bad signature``)."""

    status = 401
    error = "bad signature"


class SkewError(SignatureError):
    """A correctly signed request whose timestamp is more than :data:`MAX_SKEW_S` off the receiver's clock."""

    error = "clock skew"

    def __init__(self, message: str, server_time: int):
        super().__init__(message)
        self.server_time = server_time


class Batch:
    """One decoded batch: its stream, its records (``seq`` increasing) and ``after`` when it was sent.

    Readings that travelled in columns stay columns (:meth:`reading_columns`, what the central stores from);
    ``records`` (one dict per record) is built from them only when someone asks for it.
    """

    def __init__(
        self,
        stream: str,
        records: list[dict] | None = None,
        after: int | None = None,
        *,
        columns: dict[str, list[Any]] | None = None,
    ):
        if records is None and columns is None:
            raise ValueError("a batch needs records or columns")
        self.stream = stream
        self.after = after
        self._records = records
        self._columns = columns

    @property
    def records(self) -> list[dict]:
        if self._records is None:
            assert self._columns is not None
            self._records = _column_records(self._columns)
        return self._records

    def reading_columns(self) -> dict[str, list[Any]] | None:
        """The readings as one list per key of the reading shape (not necessarily in seq order), or None when
        a record lacks one of those keys."""
        if self._columns is None:
            self._columns = _records_to_columns(self.records)
        return self._columns

    def __len__(self) -> int:
        return len(self._records) if self._records is not None else len(self._columns["seq"])  # type: ignore[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Batch):
            return NotImplemented
        return (self.stream, self.records, self.after) == (other.stream, other.records, other.after)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Batch(stream={self.stream!r}, records=<{len(self)}>, after={self.after!r})"


# --- signing -----------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, method: str, target: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``"<timestamp>\\n<METHOD>\\n<target>\\n" + body`` keyed with the secret."""
    mac = signer(secret, timestamp, method, target)
    mac.update(body)
    return mac.hexdigest()


def signer(secret: str, timestamp: int, method: str, target: str) -> hmac.HMAC:
    """The HMAC of :func:`sign` before the body: feed it the body piece by piece with ``update`` (a receiver
    that checks a signature while the body arrives need not hold the body in memory)."""
    return hmac.new(
        secret.encode(), f"{int(timestamp)}\n{method.upper()}\n{target}\n".encode(), hashlib.sha256
    )


def signed_headers(
    gateway_id: str, secret: str, method: str, target: str, body: bytes, now: float
) -> dict[str, str]:
    """The three headers that sign one request made at ``now`` (unix seconds)."""
    timestamp = int(math.floor(now))
    return {
        HEADER_GATEWAY: gateway_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, method, target, body),
    }


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value from any mapping, looked up case-insensitively."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def verify(
    secret: str, headers: Mapping[str, str], method: str, target: str, body: bytes, now: float
) -> None:
    """Check a request's signature, then its timestamp; raise :class:`SignatureError` or :class:`SkewError`.

    The signature is checked first, so only a correctly signed request learns that its clock is off.
    """
    stamp = header(headers, HEADER_TIMESTAMP)
    given = header(headers, HEADER_SIGNATURE)
    if stamp is None or given is None:
        raise SignatureError("the request is not signed")
    if not re.fullmatch(r"-?[0-9]{1,15}", stamp.strip()):
        raise SignatureError("the timestamp is not whole unix seconds")
    timestamp = int(stamp)
    expected = sign(secret, timestamp, method, target, body)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace")):
        raise SignatureError("the signature does not match")
    if abs(now - timestamp) > MAX_SKEW_S:
        raise SkewError(f"the timestamp is {int(timestamp - now)} s off the central's clock", int(now))


# --- status lookups ----------------------------------------------------------------------------------------

STATUS_LOOKUP_PATH = API_PREFIX + "/status-lookup"
access_hash = statuscode.access_hash
code_matches = statuscode.matches


def encode_status_lookup(number: str, code: str | None) -> bytes:
    """The body of ``POST /api/v1/status-lookup``: ``{"number": ..., "code": ... or null}``."""
    return json.dumps({"number": number, "code": code}, separators=(",", ":")).encode()


def decode_status_lookup(body: bytes) -> tuple[str, str | None]:
    """(number, code as typed or None) of a status-lookup body; raise :class:`ProtocolError` when malformed."""
    doc = parse_json(inflate(body, None, 4096))
    if not isinstance(doc, dict):
        raise ProtocolError("the body is not a JSON object")
    number, code = doc.get("number"), doc.get("code")
    if not isinstance(number, str) or not 0 < len(number) <= 64:
        raise ProtocolError("'number' is not a registration number")
    if code is not None and (not isinstance(code, str) or len(code) > 64):
        raise ProtocolError("'code' is not a status code or null")
    return number, code


# --- batch bodies ------------------------------------------------------------------------------------------


def encode_batch(
    stream: str,
    records: list[dict],
    *,
    after: int | None = None,
    columnar: bool | None = None,
    compress: bool = True,
) -> tuple[bytes, dict[str, str]]:
    """The body of ``POST /api/v1/batches`` for these records and the headers that describe it.

    ``columnar`` None (auto) sends readings of exactly the reading shape in whichever form is smaller; False
    always sends rows; True always sends columns (a :class:`ProtocolError` for records that cannot travel so).
    """
    if stream not in STREAMS:
        raise ProtocolError(f"unknown stream {stream!r}")
    _check_increasing([r.get("seq") for r in records])
    columnable = stream == "readings" and bool(records) and _columnable(records)
    if columnar and not columnable:
        raise ProtocolError("only readings of the plain reading shape travel in columns")
    if columnar is None and columnable:  # auto: whichever form is smaller on the wire
        rows = _encode_doc(stream, records, after, False, compress)
        columns = _encode_doc(stream, records, after, True, compress)
        return min(rows, columns, key=lambda encoded: len(encoded[0]))
    return _encode_doc(stream, records, after, bool(columnar), compress)


def _encode_doc(
    stream: str, records: list[dict], after: int | None, columnar: bool, compress: bool
) -> tuple[bytes, dict[str, str]]:
    doc: dict[str, Any] = {"stream": stream}
    if after is not None:
        doc["after"] = after
    if columnar:
        doc["columns"] = _to_columns(records)
    else:
        doc["records"] = records
    try:
        body = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"a record cannot be sent as JSON: {err}") from err
    headers = {"Content-Type": CONTENT_TYPE}
    if compress:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return body, headers


# What decoding a batch may cost: the JSON tokens of a body (see :func:`json_tokens`) and the memory each takes
# once parsed into Python objects and stored as columns (measured: 36 to 80 bytes per token when decoded, the
# columns built from them as much again).
MAX_TOKENS = 1_000_000
MEMORY_PER_TOKEN = 128
_PIECE = 1 << 20


def json_tokens(data: bytes | bytearray) -> int:
    """An upper bound of the Python objects parsing JSON ``data`` makes: its ``,``, ``:``, ``[`` and ``{`` (one
    per value, key and container; those inside strings only make the bound larger). Counted in C, fast."""
    return data.count(b",") + data.count(b":") + data.count(b"[") + data.count(b"{") + 1


def decode_batch(
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_bytes: int = 64 << 20,
    max_records: int | None = None,
    reserve: Callable[[int], object] | None = None,
) -> Batch:
    """Parse and check a batch body; raise :class:`ProtocolError` (:class:`BodyTooLargeError` for too much).

    Bounded before anything is parsed: the body is gunzipped a piece at a time to at most ``max_bytes``, and
    its JSON tokens (:func:`json_tokens`) are counted as it grows, refused beyond :data:`MAX_TOKENS`.
    ``reserve(n)`` (the central's in-flight budget) is asked for each inflated piece's bytes and then for the
    parsed objects' memory (``MEMORY_PER_TOKEN`` bytes per token) before parsing; it may wait or raise. A
    batch of more than ``max_records`` records is refused.
    """
    tokens = 0

    def counted(piece: bytes | bytearray, inflated: bool) -> None:
        nonlocal tokens
        if inflated and reserve is not None:
            reserve(len(piece))
        tokens += json_tokens(piece)
        if tokens > MAX_TOKENS:
            raise BodyTooLargeError(f"the batch holds more than {MAX_TOKENS} JSON values")

    data = inflate(body, header(headers, "Content-Encoding"), max_bytes, on_piece=counted)
    if reserve is not None:
        reserve(tokens * MEMORY_PER_TOKEN)
    batch = _parse_batch(data)
    if max_records is not None and len(batch) > max_records:
        raise BodyTooLargeError(f"a batch carries at most {max_records} records, this one {len(batch)}")
    return batch


def _parse_batch(data: bytes | bytearray) -> Batch:
    doc = parse_json(data)
    if not isinstance(doc, dict):
        raise ProtocolError("the body is not a JSON object")
    stream = doc.get("stream")
    if stream not in STREAMS:
        raise ProtocolError(f"unknown stream {stream!r}")
    after = doc.get("after")
    if after is not None and not _is_int(after):
        raise ProtocolError("'after' is not an integer")
    if "columns" in doc and "records" not in doc:
        if stream != "readings":
            raise ProtocolError("only readings travel in columns")
        columns = _from_columns(doc["columns"])
        _check_increasing(sorted(columns["seq"]))
        return Batch(stream=stream, after=after, columns=columns)
    records = doc.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ProtocolError("'records' is not a list of objects")
    _check_increasing([r.get("seq") for r in records])
    return Batch(stream=stream, records=records, after=after)


def inflate(
    body: bytes,
    encoding: str | None,
    max_bytes: int,
    on_piece: Callable[[bytes | bytearray, bool], object] | None = None,
) -> bytes | bytearray:
    """The body with its Content-Encoding (gzip or none) undone, refused when it grows beyond ``max_bytes``.

    Gzip is inflated a MiB at a time; ``on_piece(piece, inflated)`` sees each piece as it arrives (the body
    itself, ``inflated`` False, when it is not compressed) and may raise to stop.
    """
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"the body is larger than {max_bytes} bytes")
        if on_piece is not None:
            on_piece(body, False)
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise ProtocolError(f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=31)
    data = bytearray()
    pending = body
    try:
        while not inflater.eof:
            before = len(pending)
            piece = inflater.decompress(pending, min(_PIECE, max_bytes + 1 - len(data)))
            pending = inflater.unconsumed_tail
            if not piece and (not pending or len(pending) == before):
                break  # no input left, or none taken: truncated
            if len(data) + len(piece) > max_bytes:
                raise BodyTooLargeError(f"the body inflates to more than {max_bytes} bytes")
            if on_piece is not None:
                on_piece(piece, True)
            data += piece
    except zlib.error as err:
        raise ProtocolError(f"the body is not valid gzip: {err}") from err
    if not inflater.eof:
        raise ProtocolError("the gzip body is truncated")
    return data


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not a JSON number")


def parse_json(data: bytes | bytearray) -> Any:
    """Strict JSON (no NaN or Infinity); any failure is a :class:`ProtocolError`."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"the body is not valid JSON: {err}") from err


def batch_problems(batch: Batch) -> list[dict[str, Any]]:
    """Every record of a batch that cannot be stored, as ``{"seq", "reason"}`` (empty when all can).

    Readings are checked a whole column at a time; only when that finds something is each record looked at,
    to say which ones and why.
    """
    if batch.stream == "readings":
        columns = batch.reading_columns()
        if columns is not None and plain_reading_columns(columns):
            return []
    return [
        {"seq": record["seq"], "reason": problem}
        for record in batch.records
        if (problem := record_problem(batch.stream, record)) is not None
    ]


def record_problem(stream: str, record: Mapping[str, Any]) -> str | None:
    """Why one record of a stream cannot be stored, or None when it can."""
    if stream == "readings" and _plain_reading(record):
        return None
    checker = _CHECKERS[stream]
    try:
        checker(record)
    except _Bad as bad:
        return str(bad)
    return None


# --- record checks -----------------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


_BIG = 1 << 63  # integers are stored as 64-bit: anything outside is refused (422), never a 500


def _is_int64(value: Any) -> bool:
    return _is_int(value) and -_BIG < value < _BIG


def _is_number(value: Any) -> bool:
    return _is_int64(value) or (isinstance(value, float) and math.isfinite(value))


def _need(record: Mapping[str, Any], key: str, test: Any, what: str) -> None:
    if key not in record:
        raise _Bad(f"'{key}' is missing")
    if not test(record[key]):
        raise _Bad(f"'{key}' is not {what}")


def _check_time(record: Mapping[str, Any]) -> None:
    _need(record, "at", _is_int64, "an integer (ms since the epoch)")
    _need(record, "offset", lambda v: v is None or _is_int64(v), "an integer or null")
    if record["offset"] is not None and not _is_int64(record["at"] + record["offset"]):
        raise _Bad("'at' + 'offset' (the central's time of the record) is beyond a 64-bit integer")


def _plain_reading(r: Mapping[str, Any]) -> bool:
    """The fast path of the reading check: True when every field is surely right."""
    try:
        value, offset = r["value"], r["offset"]
        return bool(
            type(r["boot"]) is int
            and 0 <= r["boot"] < _BIG
            and type(r["q"]) is int
            and 0 <= r["q"] < _BIG
            and type(r["at"]) is int
            and -_BIG < r["at"] < _BIG
            and (
                offset is None
                or (type(offset) is int and -_BIG < offset < _BIG and -_BIG < r["at"] + offset < _BIG)
            )
            and (
                (type(value) is int and -_BIG < value < _BIG)
                or (type(value) is float and math.isfinite(value))
            )
            and type(r["node"]) is str
            and _NODE_RE.match(r["node"])
            and type(r["name"]) is str
            and _NAME_RE.match(r["name"])
        )
    except KeyError:
        return False


_NONE_TYPE = type(None)


def plain_reading_columns(columns: Mapping[str, list[Any]]) -> bool:
    """:func:`_plain_reading` for whole columns at once: True when every reading is surely right."""
    boot, q, value = columns["boot"], columns["q"], columns["value"]
    if not boot:
        return True
    value_types = set(map(type, value))
    return bool(
        set(map(type, boot)) == {int}
        and 0 <= min(boot) <= max(boot) < _BIG
        and set(map(type, q)) == {int}
        and 0 <= min(q) <= max(q) < _BIG
        and set(map(type, columns["at"])) == {int}
        and -_BIG < min(columns["at"]) <= max(columns["at"]) < _BIG
        and set(map(type, columns["offset"])) <= {int, _NONE_TYPE}
        and all(-_BIG < o < _BIG for o in columns["offset"] if o is not None)
        and all(
            -_BIG < a + o < _BIG
            for a, o in zip(columns["at"], columns["offset"], strict=True)
            if o is not None
        )
        and value_types <= {int, float}
        and _finite_floats(value, value_types)
        and (int not in value_types or all(-_BIG < v < _BIG for v in value if type(v) is int))
        and _all_match(_NODE_RE, columns["node"])
        and _all_match(_NAME_RE, columns["name"])
    )


def _finite_floats(values: list[Any], types: set[type]) -> bool:
    if float not in types:
        return True
    if types == {float}:
        return all(map(math.isfinite, values))
    return all(math.isfinite(v) for v in values if type(v) is float)


def _all_match(pattern: re.Pattern[str], values: list[Any]) -> bool:
    if set(map(type, values)) != {str}:
        return False
    return all(pattern.match(value) for value in set(values))


def _check_reading(record: Mapping[str, Any]) -> None:
    _need(record, "node", lambda v: isinstance(v, str) and _NODE_RE.match(v), "a node id")
    _need(record, "boot", lambda v: _is_int64(v) and v >= 0, "a non-negative integer")
    _need(record, "q", lambda v: _is_int64(v) and v >= 0, "a non-negative integer")
    _need(record, "name", lambda v: isinstance(v, str) and _NAME_RE.match(v), "a measurement name")
    _need(record, "value", _is_number, "a finite number")
    _check_time(record)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _check_text(record: Mapping[str, Any]) -> None:
    """Every string of the record (keys too, at any depth) can be stored as text.

    A lone surrogate (what a JSON escape such as ``\\ud800`` decodes to) cannot be encoded as UTF-8, so no
    database can store it; a NUL character is refused by PostgreSQL in a text column (inside a JSON value it
    travels escaped, which both databases store). Both are refused here, so that such a record is a 422 that
    names it, never a 500 that stops its stream (DESIGN.md, the frame contract: "every string ... encodable").
    A NaN or infinite float anywhere in the record is refused too: JSON has none (RFC 8259, section 6), so
    such a record could never be encoded for the wire.
    """
    for key, value in record.items():
        if isinstance(value, str) and "\x00" in value:
            raise _Bad(f"'{_printable(key)}' holds a NUL character, which a text column cannot store")
        where = _unencodable(value, f"'{_printable(key)}'")
        if where is not None or _SURROGATE_RE.search(key):
            raise _Bad(f"{where or repr(_printable(key))} holds text that cannot be encoded as UTF-8 "
                       "(a lone surrogate)")  # fmt: skip
        where = _non_finite(value, f"'{_printable(key)}'")
        if where is not None:
            raise _Bad(f"{where} holds a non-finite number (NaN or Infinity), which JSON cannot carry")


def _unencodable(value: Any, where: str) -> str | None:
    """Where inside ``value`` a string holds a lone surrogate (a path like ``'data'.'msg'``), or None."""
    if isinstance(value, str):
        return where if _SURROGATE_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.'{_printable(key)}'"
            if _SURROGATE_RE.search(key):
                return inner
            found = _unencodable(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _non_finite(value: Any, where: str) -> str | None:
    """Where inside ``value`` a float is NaN or infinite (a path like ``'data'.'up_s'``), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{where}.'{_printable(str(key))}'")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _printable(text: str) -> str:
    """Text safe to put in a reason (lone surrogates and NUL shown as escapes), cut to 40 characters."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return safe if len(safe) <= 40 else safe[:39] + "…"


def _check_event(record: Mapping[str, Any]) -> None:
    _check_text(record)
    _check_time(record)
    _need(
        record, "node", lambda v: v is None or (isinstance(v, str) and 0 < len(v) <= 64), "a node id or null"
    )
    _need(record, "kind", lambda v: isinstance(v, str) and 0 < len(v) <= 64, "a short text")
    _need(record, "data", lambda v: isinstance(v, dict), "an object")


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _check_submission(record: Mapping[str, Any]) -> None:
    _check_text(record)
    _need(record, "uuid", lambda v: isinstance(v, str) and 0 < len(v) <= 64, "a UUID")
    _need(record, "number", lambda v: isinstance(v, str) and 0 < len(v) <= 64, "a registration number")
    try:  # one way of writing each number: the central's ownership checks are keyed on it
        regno.canonical(record["number"])
    except regno.InvalidNumber as err:
        raise _Bad(f"'number' {_printable(record['number'])!r} is refused: {err}") from None
    _need(record, "kind", lambda v: v in SUBMISSION_KINDS, "one of " + ", ".join(SUBMISSION_KINDS))
    _check_time(record)
    _need(record, "due_date", lambda v: v is None or _is_iso_date(v), "an ISO date or null")
    _need(record, "public", lambda v: isinstance(v, dict), "an object")
    _need(record, "personal", lambda v: v is None or isinstance(v, dict), "an object or null")
    if record.get("access") is not None and not (
        isinstance(record["access"], str) and statuscode.HASH_RE.match(record["access"])
    ):
        raise _Bad("'access' is not a status-code hash (64 lowercase hex digits) or null")


_CHECKERS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    Stream.READINGS: _check_reading,
    Stream.EVENTS: _check_event,
    Stream.SUBMISSIONS: _check_submission,
}


def _check_increasing(seqs: list[Any]) -> None:
    previous = 0
    for seq in seqs:
        if type(seq) is not int or not 1 <= seq < _BIG:
            raise ProtocolError(f"a record's 'seq' is not a positive integer: {seq!r}")
        if seq <= previous:
            raise ProtocolError(f"'seq' is not strictly increasing at {seq}")
        previous = seq


# --- the columnar form of readings -------------------------------------------------------------------------


def _columnable(records: list[dict]) -> bool:
    """Whether every record has exactly the reading shape and is surely right (checked column by column)."""
    if set(map(len, records)) != {len(READING_KEYS)}:
        return False
    columns = _records_to_columns(records)
    return columns is not None and plain_reading_columns(columns)


def _deltas(values: list[int]) -> list[int]:
    return [b - a for a, b in zip([0, *values], values, strict=False)]


def _undeltas(deltas: list[Any], what: str) -> list[int]:
    if not all(type(delta) is int for delta in deltas):
        raise ProtocolError(f"columns: '{what}' holds a non-integer")
    return list(itertools.accumulate(deltas))


def _runs(values: list[Any]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    for value in values:
        if runs and runs[-1][0] == value and type(runs[-1][0]) is type(value):
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return runs


def _unruns(runs: Any, what: str, allow_null: bool) -> list[Any]:
    if not isinstance(runs, list):
        raise ProtocolError(f"columns: '{what}' is not a list of runs")
    out: list[Any] = []
    for run in runs:
        ok = isinstance(run, list) and len(run) == 2 and _is_int(run[1]) and 0 < run[1] <= 1 << 20
        if not ok or not (_is_int(run[0]) or (allow_null and run[0] is None)):
            raise ProtocolError(f"columns: '{what}' holds a bad run")
        out.extend([run[0]] * run[1])
    return out


def _scale_of(values: list[float]) -> int | None:
    """The smallest k with every value exactly ``int / 10**k``, or None (then the values travel raw)."""
    if any(v == 0 and math.copysign(1.0, v) < 0 for v in values):
        return None
    for k in range(_MAX_SCALE + 1):
        factor = 10**k
        if all(abs(v) < 1e15 and round(v * factor) / factor == v for v in values):
            return k
    return None


def _encode_values(values: list[Any]) -> dict[str, Any]:
    if all(_is_int(v) for v in values):
        return {"i": _deltas(values)}
    if all(isinstance(v, float) for v in values):
        k = _scale_of(values)
        if k is not None:
            return {"k": k, "d": _deltas([round(v * 10**k) for v in values])}
    return {"raw": values}


def _decode_values(column: Any, count: int) -> list[Any]:
    if not isinstance(column, dict):
        raise ProtocolError("columns: 'value' is not an object")
    if "i" in column:
        values: list[Any] = _undeltas(_list(column["i"], "value"), "value")
    elif "d" in column:
        k = column.get("k")
        if not _is_int(k) or not 0 <= k <= _MAX_SCALE:
            raise ProtocolError("columns: 'value' has a bad scale")
        values = [m / 10**k for m in _undeltas(_list(column["d"], "value"), "value")]
    else:
        values = _list(column.get("raw"), "value")
        if not all(_is_number(v) for v in values):
            raise ProtocolError("columns: 'value' holds a non-number")
    if len(values) != count:
        raise ProtocolError("columns: 'value' has the wrong length")
    return values


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"columns: '{what}' is not a list")
    return value


def _to_columns(records: list[dict]) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record["node"], record["name"]), []).append(record)
    nodes = sorted({node for node, _ in groups})
    names = sorted({name for _, name in groups})
    base = min(r["at"] for r in records)
    out = []
    for (node, name), rows in groups.items():
        out.append(
            {
                "n": nodes.index(node),
                "m": names.index(name),
                "seq": _deltas([r["seq"] for r in rows]),
                "boot": _runs([r["boot"] for r in rows]),
                "q": _deltas([r["q"] for r in rows]),
                "at": _deltas([r["at"] - base for r in rows]),
                "offset": _runs([r["offset"] for r in rows]),
                "value": _encode_values([r["value"] for r in rows]),
            }
        )
    return {"v": COLUMNAR_VERSION, "t0": base, "nodes": nodes, "names": names, "groups": out}


def _from_columns(columns: Any) -> dict[str, list[Any]]:
    """The readings of a columnar body as one list per key of the reading shape, group after group."""
    if not isinstance(columns, dict) or columns.get("v") != COLUMNAR_VERSION:
        raise ProtocolError("'columns' is not columnar form version 1")
    nodes = _list(columns.get("nodes"), "nodes")
    names = _list(columns.get("names"), "names")
    base = columns.get("t0")
    if not _is_int(base):
        raise ProtocolError("columns: 't0' is not an integer")
    groups = _list(columns.get("groups"), "groups")
    out: dict[str, list[Any]] = {key: [] for key in READING_KEYS}
    for group in groups:
        for key, column in _group_columns(group, nodes, names, base).items():
            out[key].extend(column)
    return out


def _group_columns(group: Any, nodes: list[Any], names: list[Any], base: int) -> dict[str, list[Any]]:
    if not isinstance(group, dict):
        raise ProtocolError("columns: a group is not an object")
    node, name = _pick(nodes, group.get("n"), "n"), _pick(names, group.get("m"), "m")
    seqs = _undeltas(_list(group.get("seq"), "seq"), "seq")
    count = len(seqs)
    at = _undeltas(_list(group.get("at"), "at"), "at")
    columns: dict[str, list[Any]] = {
        "seq": seqs,
        "node": [node] * count,
        "boot": _unruns(group.get("boot"), "boot", allow_null=False),
        "q": _undeltas(_list(group.get("q"), "q"), "q"),
        "name": [name] * count,
        "value": _decode_values(group.get("value"), count),
        "at": [base + t for t in at] if base else at,
        "offset": _unruns(group.get("offset"), "offset", allow_null=True),
    }
    if any(len(column) != count for column in columns.values()):
        raise ProtocolError("columns: a group's columns differ in length")
    return columns


def _column_records(columns: Mapping[str, list[Any]]) -> list[dict]:
    """Readings given as columns as one dict each, in seq order."""
    records = [
        dict(zip(READING_KEYS, row, strict=True))
        for row in zip(*[columns[key] for key in READING_KEYS], strict=True)
    ]
    records.sort(key=operator.itemgetter("seq"))
    return records


def _records_to_columns(records: list[dict]) -> dict[str, list[Any]] | None:
    """Records as one list per key of the reading shape, or None when one lacks such a key."""
    try:
        return {key: list(map(operator.itemgetter(key), records)) for key in READING_KEYS}
    except KeyError:
        return None


def _pick(table: list[Any], index: Any, what: str) -> str:
    if not _is_int(index) or not 0 <= index < len(table) or not isinstance(table[index], str):
        raise ProtocolError(f"columns: '{what}' is not an index into its table")
    return table[index]


def format_backlog(pending: Mapping[str, int]) -> str:
    """The ``X-Anjungan-Backlog`` header's value: ``stream=count`` for each stream, comma-separated."""
    return ",".join(f"{stream}={int(pending.get(stream, 0))}" for stream in STREAMS)


def parse_backlog(text: str | None) -> dict[str, int] | None:
    """The counts of an ``X-Anjungan-Backlog`` header; None when absent or not understood (it is informational)."""
    if not text or len(text) > 200:
        return None
    counts: dict[str, int] = {}
    for part in text.split(","):
        stream, _, count = part.strip().partition("=")
        if stream not in STREAMS or not count.isdigit() or len(count) > 15:
            return None
        counts[stream] = int(count)
    return counts


# Informational, on GET /changes: the gateway's documents' files, e.g. "missing=2,failing=1" (failing: those
# whose last download failed; they are retried on their own schedule and never stop the rest of the sync).
HEADER_FILES = "X-Anjungan-Files"
_FILES_KEYS = ("missing", "failing")


def format_files(counts: Mapping[str, int]) -> str:
    """The ``X-Anjungan-Files`` header's value: ``missing=<n>,failing=<n>``."""
    return ",".join(f"{key}={int(counts.get(key, 0))}" for key in _FILES_KEYS)


def parse_files(text: str | None) -> dict[str, int] | None:
    """The counts of an ``X-Anjungan-Files`` header; None when absent or not understood (informational)."""
    if not text or len(text) > 100:
        return None
    counts: dict[str, int] = {}
    for part in text.split(","):
        key, _, count = part.strip().partition("=")
        if key not in _FILES_KEYS or not count.isdigit() or len(count) > 15:
            return None
        counts[key] = int(count)
    return counts


# Informational, on GET /changes: the gateway's own health, e.g. "version=0.1.0,uptime_s=3600,clock=1,...".
# Keys the central does not know are ignored (a newer gateway may say more); a value that is not understood
# drops that key only. A gateway that sends no such header (an older one) is still served.
HEADER_HEALTH = "X-Anjungan-Health"
HEALTH_INTS = (
    "uptime_s", "disk_free_b", "disk_total_b", "store_b", "budget_b", "clock", "offset_ms", "dead",
    "sync_s", "oldest_submissions_s", "oldest_events_s", "oldest_readings_s",
)  # fmt: skip
HEALTH_FLOATS = ("water_alert_cm", "mains_min_v")
_VERSION_RE = re.compile(r"[A-Za-z0-9.+_-]{1,40}\Z")
_INT_RE = re.compile(r"-?[0-9]{1,18}\Z")
_FLOAT_RE = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?\Z")


def format_health(health: Mapping[str, Any]) -> str:
    """The ``X-Anjungan-Health`` header's value: ``key=value`` pairs, comma-separated, of the keys given
    (``version``, :data:`HEALTH_INTS`, :data:`HEALTH_FLOATS`); None values are left out."""
    parts = []
    for key in ("version", *HEALTH_INTS, *HEALTH_FLOATS):
        value = health.get(key)
        if value is None:
            continue
        if key == "version":
            parts.append(f"{key}={value}")
        elif key in HEALTH_INTS:
            parts.append(f"{key}={int(value)}")
        else:
            parts.append(f"{key}={round(float(value), 6):g}")
    return ",".join(parts)


def parse_health(text: str | None) -> dict[str, Any] | None:
    """The values of an ``X-Anjungan-Health`` header (``version`` str, the others int or float); None when the
    header is absent or too long (over 1,000 characters). Unknown keys and values not understood are left out."""
    if not text or len(text) > 1000:
        return None
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, _, value = part.strip().partition("=")
        if key == "version" and _VERSION_RE.match(value):
            out[key] = value
        elif key in HEALTH_INTS and _INT_RE.match(value):
            out[key] = int(value)
        elif key in HEALTH_FLOATS and _FLOAT_RE.match(value):
            out[key] = float(value)
    return out


# Informational, on GET /changes: the health of the gateway's nodes, one node per ";"-separated item, the
# node id first, then key=value pairs: "dmk-wl-01,boot=12,fw=1.0.3,mem=51234,rssi=-67,bat=3.91,bad=2,
# every=60,seen=12". seen: seconds since its last frame; every: its reading interval in seconds; bad: lines
# from it that were not valid frames. At most NODES_MAX nodes (the header stays under 8 KiB).
HEADER_NODES = "X-Anjungan-Nodes"
NODES_MAX = 100
NODE_INTS = ("boot", "mem", "rssi", "bad", "every", "seen", "up", "frames")
NODE_FLOATS = ("bat",)


def format_nodes(nodes: Sequence[Mapping[str, Any]]) -> str:
    """The ``X-Anjungan-Nodes`` header's value for up to :data:`NODES_MAX` nodes, each a mapping with
    ``node`` and any of ``fw``, :data:`NODE_INTS`, :data:`NODE_FLOATS` (None values are left out)."""
    items = []
    for node in nodes[:NODES_MAX]:
        parts = [str(node["node"])]
        fw = node.get("fw")
        if fw is not None and _VERSION_RE.match(str(fw)):
            parts.append(f"fw={fw}")
        parts += [f"{k}={int(node[k])}" for k in NODE_INTS if node.get(k) is not None]
        parts += [f"{k}={round(float(node[k]), 3):g}" for k in NODE_FLOATS if node.get(k) is not None]
        items.append(",".join(parts))
    return ";".join(items)


def parse_nodes(text: str | None) -> list[dict[str, Any]] | None:
    """The nodes of an ``X-Anjungan-Nodes`` header: ``[{"node", "fw"?, <key>: int|float ...}]``; None when
    absent or too long (over 16,000 characters); an item whose node id is not a node id is left out, and so are
    values not understood."""
    if text is None or len(text) > 16_000:
        return None
    out: list[dict[str, Any]] = []
    for item in text.split(";")[:NODES_MAX]:
        node, *pairs = item.strip().split(",")
        if not _NODE_RE.match(node):
            continue
        entry: dict[str, Any] = {"node": node}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key == "fw" and _VERSION_RE.match(value):
                entry["fw"] = value
            elif key in NODE_INTS and _INT_RE.match(value):
                entry[key] = int(value)
            elif key in NODE_FLOATS and _FLOAT_RE.match(value):
                entry[key] = float(value)
        out.append(entry)
    return out
