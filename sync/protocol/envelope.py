"""What travels in a request body: a batch's envelope and its encodings, and the status-lookup body
(docs/protocol.md, "Batches: POST /api/v1/batches", "Status codes and lookups"; DESIGN.md, "Contract: the sync
API").

Owns :class:`Batch`, :func:`encode_batch` / :func:`decode_batch` (the stream, ``after``, strictly increasing
seqs, rows or columns, gzip), the bounds a receiver puts on a body before it parses it (bytes once inflated,
JSON tokens), strict JSON, and the status-lookup body. The records' own shapes are
:mod:`sync.protocol.validation`'s, the columns :mod:`sync.protocol.codec`'s.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from gateway import statuscode
from gateway.vocabulary import STREAMS
from sync.protocol import codec
from sync.protocol.errors import BodyTooLargeError, ProtocolError
from sync.protocol.signing import header
from sync.protocol.validation import BIG, is_int

API_PREFIX = "/api/v1"
CONTENT_TYPE = "application/json"


class Batch:
    """One decoded batch: its stream, its records (``seq`` increasing) and ``after`` when it was sent.

    Readings that travelled in columns stay columns (:meth:`reading_columns`, what the central stores from);
    ``records`` (one dict per record) is built from them only when someone asks for it.
    """

    def __init__(
        self,
        stream: str,
        records: list[dict[str, Any]] | None = None,
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
    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            assert self._columns is not None
            self._records = codec.column_records(self._columns)
        return self._records

    def reading_columns(self) -> dict[str, list[Any]] | None:
        """The readings as one list per key of the reading shape (not necessarily in seq order), or None when
        a record lacks one of those keys."""
        if self._columns is None:
            self._columns = codec.records_to_columns(self.records)
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


def encode_batch(
    stream: str,
    records: list[dict[str, Any]],
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
    columnable = stream == "readings" and bool(records) and codec.columnable(records)
    if columnar and not columnable:
        raise ProtocolError("only readings of the plain reading shape travel in columns")
    if columnar is None and columnable:  # auto: whichever form is smaller on the wire
        rows = _encode_doc(stream, records, after, False, compress)
        columns = _encode_doc(stream, records, after, True, compress)
        return min(rows, columns, key=lambda encoded: len(encoded[0]))
    return _encode_doc(stream, records, after, bool(columnar), compress)


def _encode_doc(
    stream: str, records: list[dict[str, Any]], after: int | None, columnar: bool, compress: bool
) -> tuple[bytes, dict[str, str]]:
    doc: dict[str, Any] = {"stream": stream}
    if after is not None:
        doc["after"] = after
    if columnar:
        doc["columns"] = codec.to_columns(records)
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
    if after is not None and not is_int(after):
        raise ProtocolError("'after' is not an integer")
    if "columns" in doc and "records" not in doc:
        if stream != "readings":
            raise ProtocolError("only readings travel in columns")
        columns = codec.from_columns(doc["columns"])
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


def _check_increasing(seqs: list[Any]) -> None:
    previous = 0
    for seq in seqs:
        if type(seq) is not int or not 1 <= seq < BIG:
            raise ProtocolError(f"a record's 'seq' is not a positive integer: {seq!r}")
        if seq <= previous:
            raise ProtocolError(f"'seq' is not strictly increasing at {seq}")
        previous = seq
