"""The sync protocol package: one concern per module, the same public names as ever, the lowest layer only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from sync import protocol

PACKAGE = Path(protocol.__file__).parent
# Every public name of the protocol before it became a package: callers keep using ``protocol.<name>``.
PUBLIC = {
    "API_PREFIX", "COLUMNAR_VERSION", "CONTENT_TYPE", "HEADER_BACKLOG", "HEADER_FILES", "HEADER_GATEWAY",
    "HEADER_HEALTH", "HEADER_NODES", "HEADER_SIGNATURE", "HEADER_TIMESTAMP", "HEALTH_FLOATS", "HEALTH_INTS",
    "MAX_SKEW_S", "MAX_TOKENS", "MEMORY_PER_TOKEN", "NODES_MAX", "NODE_FLOATS", "NODE_INTS", "STATUS_LOOKUP_PATH",
    "STREAMS", "SUBMISSION_KINDS", "Batch", "BodyTooLargeError", "ProtocolError", "SignatureError", "SkewError",
    "access_hash", "batch_problems", "code_matches", "decode_batch", "decode_status_lookup", "encode_batch",
    "encode_status_lookup", "format_backlog", "format_files", "format_health", "format_nodes", "header", "inflate",
    "json_tokens", "parse_backlog", "parse_files", "parse_health", "parse_json", "parse_nodes",
    "plain_reading_columns", "record_problem", "sign", "signed_headers", "signer", "verify",
}  # fmt: skip
LOWEST_LAYER = {"gateway.errors", "gateway.vocabulary", "gateway.regno", "gateway.statuscode", "gateway"}


def test_every_public_name_is_still_there() -> None:
    # New names may join (the reading ranges did); none of the old ones may go.
    assert set(protocol.__all__) >= PUBLIC
    assert all(getattr(protocol, name, None) is not None for name in PUBLIC)


def test_each_module_says_what_it_owns_and_which_spec_it_follows() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert {m.stem for m in modules} >= {"signing", "envelope", "validation", "codec"}
    for module in modules:
        doc = ast.get_docstring(ast.parse(module.read_text())) or ""
        assert "docs/protocol.md" in doc or "DESIGN.md" in doc, module.name


def test_the_package_imports_only_the_standard_library_and_the_lowest_layer() -> None:
    for module in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            )  # fmt: skip
            for name in names:
                root = name.split(".")[0]
                ours = name in LOWEST_LAYER or name.startswith("sync.protocol")
                assert ours or root in sys.stdlib_module_names or root == "__future__", (
                    f"{module.name}: {name}"
                )
