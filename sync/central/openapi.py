"""The OpenAPI 3 document of the sync API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from gateway.vocabulary import CONTENT_KINDS
from sync import protocol


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ref("Error"), "malformed request"),
    "401": _json(_ref("AuthError"), "bad signature, or clock skew (with server_time)"),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    },
    "AuthError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "enum": ["bad signature", "clock skew"]},
            "detail": {"type": "string"},
            "server_time": {"type": "integer"},
        },
    },
    "Rejected": {
        "type": "object",
        "required": ["error", "stream", "rejected"],
        "properties": {
            "error": {"type": "string", "enum": ["rejected records"]},
            "stream": {"type": "string", "enum": list(protocol.STREAMS)},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["seq", "reason"],
                    "properties": {"seq": {"type": "integer"}, "reason": {"type": "string"}},
                },
            },
        },
    },
    "Batch": {
        "type": "object",
        "required": ["stream"],
        "description": "Either `records` (rows) or, for readings, `columns` (see docs/protocol.md).",
        "properties": {
            "stream": {"type": "string", "enum": list(protocol.STREAMS)},
            "after": {"type": "integer"},
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["seq"],
                    "properties": {"seq": {"type": "integer", "minimum": 1}},
                },
            },
            "columns": {"type": "object"},
        },
    },
    "Ack": {
        "type": "object",
        "required": ["stream", "acked"],
        "properties": {
            "stream": {"type": "string", "enum": list(protocol.STREAMS)},
            "acked": {"type": "integer"},
        },
    },
    "Changes": {
        "type": "object",
        "required": ["cursor", "changes"],
        "properties": {
            "cursor": {"type": "string"},
            "more": {"type": "boolean"},
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "id", "op", "data"],
                    "properties": {
                        "kind": {
                            "type": "string",
                            "enum": list(CONTENT_KINDS),
                        },
                        "id": {"type": "string"},
                        "op": {"type": "string", "enum": ["upsert", "delete"]},
                        "data": {"type": "object"},
                    },
                },
            },
        },
    },
}


_SIGNED: list[dict[str, list[str]]] = [{"gateway": [], "timestamp": [], "signature": []}]
_STATUS_LOOKUP = {
    "post": {
        "operationId": "postStatusLookup",
        "security": _SIGNED,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["number"],
                        "properties": {
                            "number": {"type": "string", "minLength": 1, "maxLength": 64},
                            "code": {"type": "string", "maxLength": 64, "nullable": True},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": ["number", "found"],
                    "properties": {
                        "number": {"type": "string"},
                        "found": {"type": "boolean"},
                        "full": {"type": "boolean"},
                        "status": {"type": "string"},
                        "kind": {"type": "string"},
                        "submitted_at": {"type": "string", "nullable": True},
                        "due_date": {"type": "string", "nullable": True},
                        "answer": {"type": "string", "nullable": True},
                        "answered_at": {"type": "string", "nullable": True},
                    },
                },
                "whether the number exists and its status; with the right code (full) also its answer",
            ),
            **_ERRORS,
            "413": _json(_ref("Error"), "the body is over 4 KiB"),
            "429": _json(_ref("Error"), "too many lookups by this gateway or of this number (Retry-After)"),
        },
    }
}


def openapi_document() -> dict[str, Any]:
    signed: list[dict[str, list[str]]] = [{"gateway": [], "timestamp": [], "signature": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "anjungan central sync API",
            "version": "1",
            "description": "Every operation but /time and /openapi.json is signed with the "
            "X-Anjungan-* headers (HMAC-SHA256; see docs/protocol.md).",
        },
        "paths": {
            "/api/v1/time": {
                "get": {
                    "operationId": "getTime",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["time"],
                                "properties": {"time": {"type": "number"}},
                            },
                            "the central's clock in unix seconds",
                        )
                    },
                }
            },
            "/api/v1/batches": {
                "post": {
                    "operationId": "postBatch",
                    "security": signed,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("Batch")}},
                    },
                    "responses": {
                        "200": _json(_ref("Ack"), "stored (or already stored); acked is the high-water mark"),
                        **_ERRORS,
                        "413": _json(_ref("Error"), "the body, or the body once inflated, is too large"),
                        "422": _json(_ref("Rejected"), "some records are malformed; nothing was stored"),
                    },
                }
            },
            "/api/v1/changes": {
                "get": {
                    "operationId": "getChanges",
                    "security": signed,
                    "parameters": [
                        {"name": "since", "in": "query", "required": False, "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                    ],
                    "responses": {"200": _json(_ref("Changes"), "one page of changes"), **_ERRORS},
                }
            },
            "/api/v1/files/{sha256}": {
                "get": {
                    "operationId": "getFile",
                    "security": signed,
                    "parameters": [
                        {
                            "name": "sha256",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        },
                        {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "the whole file",
                            "content": {
                                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "206": {
                            "description": "the requested range",
                            "content": {
                                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        **_ERRORS,
                        "404": _json(_ref("Error"), "no such file"),
                        "416": _json(_ref("Error"), "the range is not satisfiable"),
                    },
                }
            },
            "/api/v1/status-lookup": _STATUS_LOOKUP,
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenapi",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "this document")},
                }
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "gateway": {"type": "apiKey", "in": "header", "name": protocol.HEADER_GATEWAY},
                "timestamp": {"type": "apiKey", "in": "header", "name": protocol.HEADER_TIMESTAMP},
                "signature": {"type": "apiKey", "in": "header", "name": protocol.HEADER_SIGNATURE},
            },
        },
    }
