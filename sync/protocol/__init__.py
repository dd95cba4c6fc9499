"""The sync protocol shared by the gateway's sync client and the central: one package both ends import, so that
they follow exactly the same rules. docs/protocol.md describes the wire formats; DESIGN.md, "Contract: the sync
API", fixes them.

Its modules, one concern each:

- :mod:`~sync.protocol.signing`: the request signature and the clock check (401s);
- :mod:`~sync.protocol.envelope`: request bodies: a batch's envelope, its encodings and bounds, strict JSON, the
  status-lookup body;
- :mod:`~sync.protocol.validation`: the record shapes of each stream, checked record by record or a column at a
  time (the 422's reasons);
- :mod:`~sync.protocol.codec`: the columnar form of readings;
- :mod:`~sync.protocol.reports`: the informational headers on ``GET /changes`` (backlog, files, health, nodes);
- :mod:`~sync.protocol.errors`: the errors, with their HTTP status.

Callers use the names re-exported here (``from sync import protocol``; ``protocol.encode_batch``). The package
imports only the standard library and the lowest layer (:mod:`gateway.errors`, :mod:`gateway.vocabulary`,
:mod:`gateway.regno`, :mod:`gateway.statuscode`).
"""

from __future__ import annotations

from gateway.vocabulary import STREAMS, SUBMISSION_KINDS
from sync.protocol.codec import COLUMNAR_VERSION
from sync.protocol.envelope import (
    API_PREFIX,
    CONTENT_TYPE,
    MAX_TOKENS,
    MEMORY_PER_TOKEN,
    STATUS_LOOKUP_PATH,
    Batch,
    access_hash,
    code_matches,
    decode_batch,
    decode_status_lookup,
    encode_batch,
    encode_status_lookup,
    inflate,
    json_tokens,
    parse_json,
)
from sync.protocol.errors import BodyTooLargeError, ProtocolError, SignatureError, SkewError
from sync.protocol.reports import (
    HEADER_BACKLOG,
    HEADER_FILES,
    HEADER_HEALTH,
    HEADER_NODES,
    HEALTH_FLOATS,
    HEALTH_INTS,
    NODE_FLOATS,
    NODE_INTS,
    NODES_MAX,
    RANGES,
    format_backlog,
    format_files,
    format_health,
    format_nodes,
    in_range,
    parse_backlog,
    parse_files,
    parse_health,
    parse_nodes,
)
from sync.protocol.signing import (
    HEADER_GATEWAY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SKEW_S,
    header,
    sign,
    signed_headers,
    signer,
    verify,
)
from sync.protocol.validation import batch_problems, plain_reading_columns, record_problem

__all__ = [
    "API_PREFIX",
    "COLUMNAR_VERSION",
    "CONTENT_TYPE",
    "HEADER_BACKLOG",
    "HEADER_FILES",
    "HEADER_GATEWAY",
    "HEADER_HEALTH",
    "HEADER_NODES",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "HEALTH_FLOATS",
    "HEALTH_INTS",
    "MAX_SKEW_S",
    "MAX_TOKENS",
    "MEMORY_PER_TOKEN",
    "NODES_MAX",
    "RANGES",
    "NODE_FLOATS",
    "NODE_INTS",
    "STATUS_LOOKUP_PATH",
    "STREAMS",
    "SUBMISSION_KINDS",
    "Batch",
    "BodyTooLargeError",
    "ProtocolError",
    "SignatureError",
    "SkewError",
    "access_hash",
    "batch_problems",
    "code_matches",
    "decode_batch",
    "decode_status_lookup",
    "encode_batch",
    "encode_status_lookup",
    "format_backlog",
    "format_files",
    "format_health",
    "format_nodes",
    "in_range",
    "header",
    "inflate",
    "json_tokens",
    "parse_backlog",
    "parse_files",
    "parse_health",
    "parse_json",
    "parse_nodes",
    "plain_reading_columns",
    "record_problem",
    "sign",
    "signed_headers",
    "signer",
    "verify",
]
