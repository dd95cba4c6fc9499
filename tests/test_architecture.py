"""The house rules of docs/architecture.md, checked on the source: the layer order.

Every module of ``gateway``, ``kiosk`` and ``sync`` belongs to one part, and every part to one layer
(:data:`LAYERS`, lowest first). A module may import the modules of its own part and of any part of a lower
layer, never one of a higher layer nor another part of its own layer; :data:`NOT_ON` names the few lower parts
a part must still not use. A module that no part claims is itself a failure: a new module is placed on purpose.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "kiosk", "sync")

# (layer, {part: module prefixes}), lowest layer first. A prefix claims the module of that name and every
# module below it (the longest prefix wins), except the packages in ONLY_ITSELF, which claim their own
# __init__ only.
LAYERS: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    (
        "lowest",
        {
            # pure modules every part may import: errors, vocabulary, working-day dates, registration numbers,
            # status codes, the typed configuration and the small shared tools
            "base": (
                "gateway",  # the package itself: __version__, RELEASE_DATE
                "gateway.errors",
                "gateway.vocabulary",
                "gateway.dates",
                "gateway.regno",
                "gateway.statuscode",
                "gateway.config",
                "gateway.clicontext",
                "gateway.printerspec",
                "gateway.backoff",
                "gateway.warnonce",
                "gateway.stopsignals",
                "gateway.sdnotify",
                "gateway.private",
                "gateway.portlock",
                "gateway.scrape",
                "gateway.frame",
                "gateway.faults",
                "gateway.sample_content",
            ),
        },
    ),
    (
        "store and protocol",
        {
            "store": ("gateway.store", "gateway.upgrade"),
            "protocol": ("sync.protocol",),
        },
    ),
    (
        "parts",
        {
            "ingest": ("gateway.ingest", "gateway.porttap"),
            "kiosk": ("kiosk",),
            "sync": ("sync", "sync.cli", "sync.client"),
            "central": ("sync.central",),
            "simulator": ("gateway.simulator",),
        },
    ),
    (
        "tools",
        {
            "tools": (
                "gateway.__main__",
                "gateway.cli",
                "gateway.clockset",
                "gateway.deadline",
                "gateway.demo",
                "gateway.doctor",
                "gateway.flash",
                "gateway.health",
                "gateway.monitor",
                "gateway.supervise",
            ),
        },
    ),
]

# Lower parts a part must not use all the same. The central shares with the gateway side only the protocol and
# the lowest layer (DESIGN.md); the gateway's own commands never import the kiosk or the sync, which add their
# commands through the `anjungan.commands` entry points and are started as child processes.
NOT_ON = {
    "central": {"store"},
    "tools": {"kiosk", "sync", "central", "protocol"},
}

ONLY_ITSELF = {"gateway", "sync"}

LAYER_OF = {part: index for index, (_, parts) in enumerate(LAYERS) for part in parts}
PREFIXES = sorted(
    ((prefix, part) for _, parts in LAYERS for part, prefixes in parts.items() for prefix in prefixes),
    key=lambda item: -len(item[0]),
)


def part_of(module: str) -> str | None:
    """The part that claims ``module`` (a dotted name), or None."""
    for prefix, part in PREFIXES:
        if module == prefix or (prefix not in ONLY_ITSELF and module.startswith(prefix + ".")):
            return part
    return None


def refusal(importer: str, imported: str) -> str | None:
    """Why module ``importer`` may not import module ``imported`` (both dotted names of ours), or None."""
    mine, theirs = part_of(importer), part_of(imported)
    if mine is None or theirs is None:
        return f"{importer if mine is None else imported} belongs to no part"
    if mine == theirs:
        return None
    if LAYER_OF[theirs] > LAYER_OF[mine]:
        return f"{mine} ({LAYERS[LAYER_OF[mine]][0]}) imports {theirs} of a higher layer"
    if LAYER_OF[theirs] == LAYER_OF[mine]:
        return f"{mine} imports {theirs}, another part of its own layer"
    if theirs in NOT_ON.get(mine, set()):
        return f"{mine} must not stand on {theirs}"
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """The modules of ours that ``path`` imports anywhere (also inside functions), relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                stem = package[: len(package) - node.level + 1]
                base = ".".join(stem + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if is_module(sub) else base)
        elif isinstance(node, ast.Call) and _dynamic_import(node.func) and node.args:
            # importlib.import_module("kiosk.app") / __import__("kiosk.app"): an import all the same
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _dynamic_import(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )


def our_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_every_module_belongs_to_a_part() -> None:
    unclaimed = [module_name(p) for p in our_modules() if part_of(module_name(p)) is None]
    assert our_modules()
    assert unclaimed == []


def test_every_python_package_of_the_repository_is_a_part_of_the_layers() -> None:
    """A new top-level package (``gateway_common/``) would escape the layer order: the repository's packages
    are the layers' three and the firmware (which runs on the nodes), and what only runs beside the code
    (tests, benchmarks, scripts, the demo's and the hardware's files)."""
    beside = {"tests", "bench", "scripts", "firmware", "hardware", "docs", "build", "dist"}
    folders = {path.parent.name for path in REPO.glob("*/*.py") if not path.parent.name.startswith(".")}
    assert folders - beside == set(PACKAGES)


def test_every_part_excludes_only_parts_below_it() -> None:
    for part, below in NOT_ON.items():
        assert all(LAYER_OF[other] < LAYER_OF[part] for other in below), part


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layer_order(package: str) -> None:
    offenders = []
    for path in our_modules():
        if path.relative_to(REPO).parts[0] != package:
            continue
        importer = module_name(path)
        for imported in sorted(imported_modules(path)):
            why = refusal(importer, imported)
            if why:
                offenders.append(f"{path.relative_to(REPO)}: imports {imported}: {why}")
    assert offenders == []


def test_the_lowest_layer_holds_only_what_several_parts_use() -> None:
    """Code used by one part lives in that part (the receipt printer is the kiosk's, not the lowest layer's)."""
    users: dict[str, set[str]] = {}
    for path in our_modules():
        mine = part_of(module_name(path))
        for imported in imported_modules(path):
            if part_of(imported) == "base" and mine not in (None, "base"):
                users.setdefault(imported, set()).add(str(mine))
    lonely = {
        module: sorted(users.get(module, ()))
        for module in LAYERS[0][1]["base"]
        if module not in ONLY_ITSELF and len(users.get(module, ())) < 2
    }
    assert users
    assert lonely == {}, "move these into the one part that uses them"


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("gateway.store.db", "kiosk.app"),  # the store under the kiosk
        ("gateway.store", "gateway.ingest.sink"),  # the store under the ingest
        ("gateway.errors", "gateway.store"),  # the lowest layer under the store
        ("gateway.config", "gateway.store.db"),
        ("gateway.vocabulary", "sync.protocol"),
        ("gateway.store.writer", "sync.protocol.codec"),  # store and protocol side by side
        ("kiosk.app", "sync.client"),  # parts side by side
        ("sync.client.service", "kiosk.forms"),
        ("sync.central.app", "gateway.store"),  # the central stands on the protocol and the lowest layer only
        ("gateway.ingest.service", "gateway.doctor"),  # a part under the tools
        ("gateway.doctor", "kiosk.printing"),  # the gateway's commands never import the kiosk
        ("gateway.cli", "sync.cli"),
        ("gateway.newmodule", "gateway.errors"),  # a module no part claims
        ("sync.newmodule", "sync.protocol"),
    ],
)
def test_the_order_refuses(importer: str, imported: str) -> None:
    assert refusal(importer, imported) is not None


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("gateway.dates", "gateway.vocabulary"),  # siblings of the lowest layer
        ("gateway.store.writer", "gateway.frame"),
        ("kiosk.views.submit", "kiosk.printing"),
        ("kiosk.app", "gateway.store"),
        ("sync.client.service", "sync.protocol"),
        ("sync.central.api", "sync.protocol.signing"),
        ("gateway.monitor", "gateway.ingest.serial_reader"),
    ],
)
def test_the_order_allows(importer: str, imported: str) -> None:
    assert refusal(importer, imported) is None


def test_firmware_imports_nothing_of_the_host_side() -> None:
    offenders = []
    for path in sorted((REPO / "firmware").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in PACKAGES]
    assert (REPO / "firmware").is_dir()
    assert offenders == []


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
# a table named after FROM/JOIN/INTO/UPDATE/TABLE/ON, maybe as main.x, "x", [x] or `x`: in upper case anywhere,
# in any case in a text that starts as a statement does (prose such as "readings from the nodes" is not SQL)
TABLE_AFTER = r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|ON)\s+(?:\w+\.)?[\"\[`']?(\w+)"
SQL_ON_TABLE = re.compile(TABLE_AFTER)
SQL_ON_TABLE_ANY_CASE = re.compile(TABLE_AFTER, re.IGNORECASE)
STATEMENT = re.compile(
    r"\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|REPLACE|WITH|PRAGMA)\b", re.IGNORECASE
)
# opening SQLite or reaching into a Store's per-thread connections is the store's own business
STORE_OPENERS = {"connect", "_local"}
STORE_CONNECTIONS = {"conn", "durable_conn", "reader"}
# names only a Store has: reaching for them on any object is reaching into the store (``s = store(); s.reader``)
STORE_ONLY = {"durable_conn", "reader", "_query"}


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
            pattern = SQL_ON_TABLE_ANY_CASE if STATEMENT.match(node.value) else SQL_ON_TABLE
            named = {m.group(1) for m in pattern.finditer(node.value)} & tables
            if named:
                found.append(f"{path.relative_to(root)}:{node.lineno} SQL on {sorted(named)}")
        elif isinstance(node, ast.Attribute) and node.attr in STORE_CONNECTIONS | STORE_ONLY:
            owner = node.value.func if isinstance(node.value, ast.Call) else node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name.endswith("store") or (node.attr in STORE_ONLY and name != "readonly"):
                found.append(f"{path.relative_to(root)}:{node.lineno} reaches for {ast.unparse(node)}")
        elif isinstance(node, ast.Attribute) and node.attr in STORE_OPENERS:
            owner_name = getattr(node.value, "id", "") or getattr(node.value, "attr", "")
            if node.attr == "_local" or owner_name == "sqlite3":
                found.append(
                    f"{path.relative_to(root)}:{node.lineno} opens SQLite itself: {ast.unparse(node)}"
                )
    return found


def test_the_detector_sees_sql_on_the_store_tables(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'rows = store.conn.execute("SELECT seq FROM dead_letters WHERE stream = ?", ("x",))\n'
        'top = self.store.reader.execute(f"SELECT seq FROM sqlite_sequence WHERE name = {name!r}")\n'
        'print("the data from content is fine in prose")\n'
        "s = store()\n"
        "n = s.reader.execute(QUERY)\n"
        "rows = s._query(QUERY)\n"
        "conn = readonly.reader(path)\n"
        "store.x.execute('delete from main.[dead_letters]')\n"
        "sqlite3.connect(path).execute('PRAGMA journal_mode = DELETE')\n"
        "store._local.conn.execute(QUERY)\n"
        "sql = 'create index x on submissions (status)'\n"
    )
    found = [line.split(" ", 1)[1] for line in sql_on_store_tables(sample, store_tables(), tmp_path)]
    assert "SQL on ['dead_letters']" in found
    assert "SQL on ['sqlite_sequence']" in found
    assert "reaches for store.conn" in found and "reaches for self.store.reader" in found
    assert "reaches for s.reader" in found and "reaches for s._query" in found
    assert "SQL on ['dead_letters']" in found and "SQL on ['submissions']" in found
    assert "opens SQLite itself: sqlite3.connect" in found and "opens SQLite itself: store._local" in found
    assert len(found) == 10, found


def test_no_sql_on_the_store_tables_outside_the_store() -> None:
    tables = store_tables()
    assert {"readings", "submissions", "dead_letters", "meta"} <= tables
    parts = [REPO / "gateway", REPO / "kiosk", REPO / "sync", REPO / "scripts"]
    # the central has tables of its own; gateway/upgrade.py (the store's layer) copies the store into backups
    outside = [REPO / "gateway" / "store", REPO / "sync" / "central", REPO / "gateway" / "upgrade.py"]
    offenders = []
    for part in parts:
        for path in sorted(part.rglob("*.py")):
            if not any(path.is_relative_to(skip) for skip in outside):
                offenders += sql_on_store_tables(path, tables)
    assert not offenders, (
        "SQL on the store's tables, or a reach into its connections, outside gateway/store/ "
        "(docs/architecture.md, 'The store'): give the store a method in the module of its concern and call "
        "that instead:\n  " + "\n  ".join(offenders)
    )
