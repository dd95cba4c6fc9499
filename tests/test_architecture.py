"""The house rules of docs/architecture.md, checked on the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


FORBIDDEN = {
    "gateway": {"kiosk", "sync"},
    "kiosk": {"sync"},
    "sync": {"kiosk"},
    "firmware": {"gateway", "kiosk", "sync"},
}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_import_rules(part: str) -> None:
    offenders = []
    for path in sorted((REPO / part).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[part]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert (REPO / part).is_dir()
    assert offenders == []


# DESIGN.md: the central shares with the gateway side only the protocol module and the lowest layer (errors,
# vocabulary, working-day dates, registration numbers, private files, who may read /metrics, stopping on signals,
# growing pauses after failures)
# and the sample content (pure data: what the demo publishes at its central and what a kiosk's init seeds)
LOWEST_LAYER = {
    "errors",
    "vocabulary",
    "clicontext",
    "dates",
    "regno",
    "private",
    "scrape",
    "stopsignals",
    "backoff",
    "sample_content",
}


def test_central_shares_only_the_protocol_with_the_gateway_side() -> None:
    central = REPO / "sync" / "central"
    for path in central.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sync."):
                assert node.module.startswith(("sync.central", "sync.protocol")), f"{path}: {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gateway."):
                assert node.module.removeprefix("gateway.") in LOWEST_LAYER, f"{path}: {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module == "gateway":
                assert {a.name for a in node.names} <= LOWEST_LAYER, f"{path}: gateway.{node.names[0].name}"


def test_no_third_party_code_or_cdn_in_the_repository() -> None:
    texts = [
        p
        for p in REPO.rglob("*")
        if p.suffix in {".html", ".js", ".css", ".py"}
        and not any(part.startswith(".venv") for part in p.parts)
        and "tests" not in p.relative_to(REPO).parts  # tests may name outside hosts to check they are absent
    ]
    for path in texts:
        text = path.read_text(errors="replace")
        for host in ("cdn.jsdelivr", "unpkg.com", "cdnjs.", "fonts.googleapis", "fonts.gstatic"):
            assert host not in text, f"{path} refers to {host}"
