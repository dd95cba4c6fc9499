"""The house rules of docs/architecture.md, checked on the source: who may import whom."""

from __future__ import annotations

import ast
import re
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
# vocabulary, working-day dates, registration numbers, private files, who may read /metrics, stopping on signals)
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


# -- the store has one face: no SQL on its tables outside gateway/store/ ----------------------------------------
SQL_ON_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+\"?(\w+)")
STORE_CONNECTIONS = {"conn", "durable_conn", "reader"}


def store_tables() -> set[str]:
    """Every table the store's migrations create, and SQLite's own AUTOINCREMENT counters."""
    from gateway.store.schema import MIGRATIONS

    made = {
        m.group(1)
        for _name, sql in MIGRATIONS
        for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql)
    }
    return made | {"sqlite_sequence", "migrations"}


def sql_on_store_tables(path: Path, tables: set[str], root: Path = REPO) -> list[str]:
    """Lines of ``path`` whose string literals run SQL on one of ``tables``, or that reach for a Store's own
    connection (``store.conn``, ``self.store.durable_conn``, ``store().reader``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = {m.group(1) for m in SQL_ON_TABLE.finditer(node.value)} & tables
            if named:
                found.append(f"{path.relative_to(root)}:{node.lineno} SQL on {sorted(named)}")
        elif isinstance(node, ast.Attribute) and node.attr in STORE_CONNECTIONS:
            owner = node.value.func if isinstance(node.value, ast.Call) else node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name.endswith("store"):
                found.append(f"{path.relative_to(root)}:{node.lineno} reaches for {ast.unparse(node)}")
    return found


def test_the_detector_sees_sql_on_the_store_tables(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'rows = store.conn.execute("SELECT seq FROM dead_letters WHERE stream = ?", ("x",))\n'
        'top = self.store.reader.execute(f"SELECT seq FROM sqlite_sequence WHERE name = {name!r}")\n'
        'print("the data from content is fine in prose")\n'
    )
    found = [line.split(" ", 1)[1] for line in sql_on_store_tables(sample, store_tables(), tmp_path)]
    assert "SQL on ['dead_letters']" in found
    assert "SQL on ['sqlite_sequence']" in found
    assert "reaches for store.conn" in found and "reaches for self.store.reader" in found
    assert len(found) == 4


def test_no_sql_on_the_store_tables_outside_the_store() -> None:
    tables = store_tables()
    assert {"readings", "submissions", "dead_letters", "meta"} <= tables
    parts = [REPO / "gateway", REPO / "kiosk", REPO / "sync", REPO / "scripts"]
    outside = [REPO / "gateway" / "store", REPO / "sync" / "central"]  # the central has tables of its own
    offenders = []
    for part in parts:
        for path in sorted(part.rglob("*.py")):
            if not any(path.is_relative_to(skip) for skip in outside):
                offenders += sql_on_store_tables(path, tables)
    assert offenders == []
