"""The columnar form of readings (docs/protocol.md, "The columnar form of readings"; DESIGN.md, "Contract: the
sync API": "a denser form ... carries the same seqs and means the same records").

Owns turning readings of exactly the reading shape (:data:`gateway.vocabulary.READING_KEYS`) into one group per
(node, name) of delta- and run-length-encoded columns and back, and the columns-per-key form the central stores
from. Decoding checks the structure (a malformed body is a :class:`~sync.protocol.errors.ProtocolError`, 400);
whether the values are storable is :mod:`sync.protocol.validation`'s.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping
from typing import Any

from gateway.vocabulary import READING_KEYS
from sync.protocol.errors import ProtocolError
from sync.protocol.validation import is_int, is_number, plain_reading_columns

COLUMNAR_VERSION = 1
_MAX_SCALE = 9


def columnable(records: list[dict[str, Any]]) -> bool:
    """Whether every record has exactly the reading shape and is surely right (checked column by column)."""
    if set(map(len, records)) != {len(READING_KEYS)}:
        return False
    columns = records_to_columns(records)
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
        ok = isinstance(run, list) and len(run) == 2 and is_int(run[1]) and 0 < run[1] <= 1 << 20
        if not ok or not (is_int(run[0]) or (allow_null and run[0] is None)):
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
    if all(is_int(v) for v in values):
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
        if not is_int(k) or not 0 <= k <= _MAX_SCALE:
            raise ProtocolError("columns: 'value' has a bad scale")
        values = [m / 10**k for m in _undeltas(_list(column["d"], "value"), "value")]
    else:
        values = _list(column.get("raw"), "value")
        if not all(is_number(v) for v in values):
            raise ProtocolError("columns: 'value' holds a non-number")
    if len(values) != count:
        raise ProtocolError("columns: 'value' has the wrong length")
    return values


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"columns: '{what}' is not a list")
    return value


def to_columns(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``columns`` object of a batch for readings of exactly the reading shape (at least one; see
    :func:`columnable`): ``{"v", "t0", "nodes", "names", "groups"}``, one group per (node, name)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
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


def from_columns(columns: Any) -> dict[str, list[Any]]:
    """The readings of a columnar body as one list per key of the reading shape, group after group."""
    if not isinstance(columns, dict) or columns.get("v") != COLUMNAR_VERSION:
        raise ProtocolError("'columns' is not columnar form version 1")
    nodes = _list(columns.get("nodes"), "nodes")
    names = _list(columns.get("names"), "names")
    base = columns.get("t0")
    if not is_int(base):
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


def column_records(columns: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Readings given as columns as one dict each, in seq order."""
    records = [
        dict(zip(READING_KEYS, row, strict=True))
        for row in zip(*[columns[key] for key in READING_KEYS], strict=True)
    ]
    records.sort(key=operator.itemgetter("seq"))
    return records


def records_to_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]] | None:
    """Records as one list per key of the reading shape, or None when one lacks such a key."""
    try:
        return {key: list(map(operator.itemgetter(key), records)) for key in READING_KEYS}
    except KeyError:
        return None


def _pick(table: list[Any], index: Any, what: str) -> str:
    entry = table[index] if is_int(index) and 0 <= index < len(table) else None
    if not isinstance(entry, str):
        raise ProtocolError(f"columns: '{what}' is not an index into its table")
    return entry
