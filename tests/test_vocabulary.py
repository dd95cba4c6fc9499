"""One vocabulary: the word lists of gateway/vocabulary.py are written out nowhere else.

A second definition is a literal that enumerates (most of) one list again: a tuple, list or set of its words, the
first items of a list of pairs (form choices), the keys or the values of a dict, in the Python source or in a
Jinja template; or a module constant naming one word (``READINGS = "readings"``). Using a word, or a few of
them (``kind in ("request", "complaint")``, a record built with the reading keys), is not a definition.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from gateway import vocabulary

REPO = Path(__file__).resolve().parent.parent
SOURCE = ("gateway", "kiosk", "sync", "bench", "scripts")
# the vocabulary itself; migrations describe the schema as it was when written, so they keep their own words
EXEMPT = (REPO / "gateway" / "vocabulary.py", REPO / "sync" / "central" / "migrations")


@dataclass(frozen=True)
class Words:
    """One word list: its name in gateway/vocabulary.py, its words, and whether they are the keys of a record
    (then a dict literal with them is a record, not a definition)."""

    name: str
    words: frozenset[str]
    record_keys: bool = False

    @property
    def enough(self) -> int:
        """How many of the words a literal must hold to count as a copy: three quarters of a list of more than
        three words (a copy made before a word was added still counts); all of a short list, and all of a
        record's keys (the keys of one record are most of another's)."""
        if len(self.words) <= 3 or self.record_keys:
            return len(self.words)
        return math.ceil(0.75 * len(self.words))


WORD_LISTS = [
    *(
        Words(name, frozenset(getattr(vocabulary, name)))
        for name in (
            "STREAMS",
            "SUBMISSION_KINDS",
            "SUBMISSION_STATUSES",
            "LAPOR_STAGES",
            "CASE_STATUSES",
            "DUE_KINDS",
            "CONTENT_KINDS",
            "DIP_CATEGORIES",
            "UNIT_SUFFIXES",
        )
    ),  # fmt: skip
    Words("READING_KEYS", frozenset(vocabulary.READING_KEYS), record_keys=True),
    Words("READING_EXPORT_KEYS", frozenset(vocabulary.READING_EXPORT_KEYS), record_keys=True),
]
ENUMS: list[type[StrEnum]] = [
    value
    for value in vars(vocabulary).values()
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
]


def _strings(items: list[ast.expr | None]) -> set[str]:
    return {item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)}


def python_literals(tree: ast.AST) -> Iterator[tuple[int, set[str], bool]]:
    """(line, the strings of one literal, whether it is a dict) for each collection literal of a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            yield node.lineno, _strings(list(node.elts)), False
            pairs = [e.elts[0] for e in node.elts if isinstance(e, ast.Tuple | ast.List) and e.elts]
            yield node.lineno, _strings(list(pairs)), False
        elif isinstance(node, ast.Dict):
            yield node.lineno, _strings(list(node.keys)), True
            yield node.lineno, _strings(list(node.values)), True


def python_constants(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """(line, name, value) of each module- or class-level ``NAME = "text"``."""
    bodies = [tree.body, *(n.body for n in tree.body if isinstance(n, ast.ClassDef))]
    for body in bodies:
        for statement in body:
            targets = (
                statement.targets if isinstance(statement, ast.Assign)
                else [statement.target] if isinstance(statement, ast.AnnAssign) else []
            )  # fmt: skip
            value = getattr(statement, "value", None)
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for target in targets:
                    if isinstance(target, ast.Name):
                        yield statement.lineno, target.id, value.value


def template_literals(source: str) -> Iterator[tuple[int, set[str], bool]]:
    """The same as :func:`python_literals` for a Jinja template's tuples, lists and dicts."""
    tree = jinja2.Environment(extensions=["jinja2.ext.i18n"]).parse(source)

    def strings(items: list[nodes.Node]) -> set[str]:
        return {item.value for item in items if isinstance(item, nodes.Const) and isinstance(item.value, str)}

    for node in tree.find_all((nodes.Tuple, nodes.List, nodes.Dict)):
        if isinstance(node, nodes.Dict):
            yield node.lineno, strings([pair.key for pair in node.items]), True
            yield node.lineno, strings([pair.value for pair in node.items]), True
        else:
            yield node.lineno, strings(list(node.items)), False


def copies(literals: Iterator[tuple[int, set[str], bool]]) -> Iterator[tuple[int, str]]:
    """(line, word list) for each literal that holds enough of one word list to be a copy of it."""
    for line, found, is_dict in literals:
        for words in WORD_LISTS:
            if is_dict and words.record_keys:
                continue
            if len(found & words.words) >= words.enough:
                yield line, words.name


def python_offences(source: str, where: str) -> list[str]:
    tree = ast.parse(source, where)
    found = [f"{where}:{line}: a copy of {name}" for line, name in copies(python_literals(tree))]
    for line, name, text in python_constants(tree):
        if len(text) < 3:  # "a", "w", "cm": too short to tell a unit suffix from a file mode or a letter
            continue
        for enum in ENUMS:
            member = next((m for m in enum if m.value == text and name.upper().endswith(m.name)), None)
            if member is not None:
                found.append(f"{where}:{line}: {name} repeats {enum.__name__}.{member.name}")
    return found


def template_offences(source: str, where: str) -> list[str]:
    return [f"{where}:{line}: a copy of {name}" for line, name in copies(template_literals(source))]


def _files(suffix: str) -> list[Path]:
    paths = [p for part in SOURCE for p in sorted((REPO / part).rglob(f"*{suffix}"))]
    return [p for p in paths if not any(p == e or e in p.parents for e in EXEMPT)]


def test_the_vocabulary_is_defined_once() -> None:
    offences = []
    sources = _files(".py")
    templates = _files(".html")
    for path in sources:
        offences += python_offences(path.read_text(), str(path.relative_to(REPO)))
    for path in templates:
        offences += template_offences(path.read_text(), str(path.relative_to(REPO)))
    assert len(sources) > 100 and len(templates) > 30  # the scan saw the tree
    assert offences == [], "import these from gateway.vocabulary instead:\n" + "\n".join(offences)


@pytest.mark.parametrize(
    "source",
    [
        'KINDS = ("request", "complaint", "objection")',
        'def f(s):\n    return s in {"submissions", "events", "readings"}',
        'LABELS = {"received": 1, "in-progress": 2, "answered": 3, "rejected": 4, "extended": 5}',  # 5 of 6
        'CHOICES = [("request", "P"), ("complaint", "A"), ("objection", "K")]',
        'PAGES = {"permohonan": "request", "pengaduan": "complaint", "keberatan": "objection"}',
        'KEYS = ["seq", "node", "boot", "q", "name", "value", "at", "offset"]',
        'READINGS = "readings"',
        'class S:\n    STATUS_IN_PROGRESS = "in-progress"',
    ],
)
def test_a_second_definition_is_found(source: str) -> None:
    assert python_offences(source, "x.py") != []


@pytest.mark.parametrize(
    "source",
    [
        'def f(kind):\n    return kind in ("request", "complaint")',
        'ROW = {"seq": 1, "node": "n", "boot": 0, "q": 0, "name": "x_c", "value": 1.0, "at": 0, "offset": None}',
        'STATE = "closed"\nOPEN = ("open", "closed")',
        'FIELDS = ("gateway", *vocabulary.READING_EXPORT_KEYS)',
        'NAMES = ("water_cm", "temp_c", "rh_pct", "rain_mm", "bat_v")',
    ],
)
def test_using_words_is_not_a_definition(source: str) -> None:
    assert python_offences(source, "x.py") == []


def test_a_copy_in_a_template_is_found() -> None:
    copied = '{% for k in ("request", "complaint", "objection") %}{{ k }}{% endfor %}'
    assert template_offences(copied, "t.html") != []
    assert template_offences("{% for k in submission_kinds %}{{ _('x') }}{% endfor %}", "t.html") == []


def test_the_words_are_strings_with_their_values() -> None:
    """Members compare, hash and serialise as their plain values, so a mapping keyed by members is found by
    the string that arrives on the wire."""
    labels = {vocabulary.SubmissionStatus.IN_PROGRESS: "x"}
    assert labels["in-progress"] == "x"
    assert f"{vocabulary.Stream.READINGS}" == "readings"
    assert vocabulary.STREAMS == ("submissions", "events", "ratings", "readings")  # upload priority order
    assert all(type(word) is str for word in vocabulary.SUBMISSION_KINDS)
    assert vocabulary.READING_KEYS == ("seq", "node", "boot", "q", "name", "value", "at", "offset")
    assert set(vocabulary.UNIT_SYMBOLS) == set(vocabulary.UNIT_SUFFIXES)


def test_the_stored_reading_row_has_the_export_keys_in_their_order() -> None:
    """gateway/store/rows.py's ``Reading`` is the contract row of ``anjungan export``: its keys are the
    vocabulary's READING_EXPORT_KEYS, not a second list that may drift."""
    from gateway.store.rows import Reading
    from gateway.vocabulary import READING_EXPORT_KEYS

    assert tuple(Reading.__annotations__) == READING_EXPORT_KEYS
