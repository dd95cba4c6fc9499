"""Checking the records of a batch one by one, or a readings batch a column at a time (docs/protocol.md, "Record
shapes", "Text" and "Rejected records: 422"; DESIGN.md, "Contract: the node frame" for node ids, measurement
names and text that must be encodable as UTF-8).

Owns the record shapes of the streams: what :func:`record_problem` answers for a record the central
cannot store (a per-record 422, never a 500 that would stop the stream), and the fast column-wise check
:func:`plain_reading_columns` that decides whether a batch of readings needs looking at record by record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, TypeGuard

from gateway import regno, statuscode
from gateway.vocabulary import SKM_ELEMENTS, SKM_SERVICES, SUBMISSION_KINDS, Stream

if TYPE_CHECKING:
    from sync.protocol.envelope import Batch

# A node id and a measurement name (DESIGN.md, "Contract: the node frame": ``n`` and the keys of ``r``)
NODE_RE = re.compile(r"[a-z0-9-]{1,32}\Z")
NAME_RE = re.compile(r"[a-z0-9_]{1,32}\Z")


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


class _Bad(Exception):
    pass


def is_int(value: Any) -> TypeGuard[int]:
    """Whether a decoded JSON value is an integer (``true`` and ``false`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


BIG = 1 << 63  # integers are stored as 64-bit: anything outside is refused (422), never a 500


def is_int64(value: Any) -> bool:
    """Whether a decoded JSON value is an integer a 64-bit column holds (strictly within ±2**63)."""
    return is_int(value) and -BIG < value < BIG


def is_number(value: Any) -> bool:
    """Whether a decoded JSON value is a storable number: a 64-bit integer or a finite float."""
    return is_int64(value) or (isinstance(value, float) and math.isfinite(value))


def _need(record: Mapping[str, Any], key: str, test: Any, what: str) -> None:
    if key not in record:
        raise _Bad(f"'{key}' is missing")
    if not test(record[key]):
        raise _Bad(f"'{key}' is not {what}")


def _check_time(record: Mapping[str, Any]) -> None:
    _need(record, "at", is_int64, "an integer (ms since the epoch)")
    _need(record, "offset", lambda v: v is None or is_int64(v), "an integer or null")
    if record["offset"] is not None and not is_int64(record["at"] + record["offset"]):
        raise _Bad("'at' + 'offset' (the central's time of the record) is beyond a 64-bit integer")


def _plain_reading(r: Mapping[str, Any]) -> bool:
    """The fast path of the reading check: True when every field is surely right."""
    try:
        value, offset = r["value"], r["offset"]
        return bool(
            type(r["boot"]) is int
            and 0 <= r["boot"] < BIG
            and type(r["q"]) is int
            and 0 <= r["q"] < BIG
            and type(r["at"]) is int
            and -BIG < r["at"] < BIG
            and (
                offset is None
                or (type(offset) is int and -BIG < offset < BIG and -BIG < r["at"] + offset < BIG)
            )
            and (
                (type(value) is int and -BIG < value < BIG) or (type(value) is float and math.isfinite(value))
            )
            and type(r["node"]) is str
            and NODE_RE.match(r["node"])
            and type(r["name"]) is str
            and NAME_RE.match(r["name"])
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
        and 0 <= min(boot) <= max(boot) < BIG
        and set(map(type, q)) == {int}
        and 0 <= min(q) <= max(q) < BIG
        and set(map(type, columns["at"])) == {int}
        and -BIG < min(columns["at"]) <= max(columns["at"]) < BIG
        and set(map(type, columns["offset"])) <= {int, _NONE_TYPE}
        and all(-BIG < o < BIG for o in columns["offset"] if o is not None)
        and all(
            -BIG < a + o < BIG for a, o in zip(columns["at"], columns["offset"], strict=True) if o is not None
        )
        and value_types <= {int, float}
        and _finite_floats(value, value_types)
        and (int not in value_types or all(-BIG < v < BIG for v in value if type(v) is int))
        and _all_match(NODE_RE, columns["node"])
        and _all_match(NAME_RE, columns["name"])
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
    _need(record, "node", lambda v: isinstance(v, str) and NODE_RE.match(v), "a node id")
    _need(record, "boot", lambda v: is_int64(v) and v >= 0, "a non-negative integer")
    _need(record, "q", lambda v: is_int64(v) and v >= 0, "a non-negative integer")
    _need(record, "name", lambda v: isinstance(v, str) and NAME_RE.match(v), "a measurement name")
    _need(record, "value", is_number, "a finite number")
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


_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TOKEN_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _is_iso_date(value: Any) -> bool:
    """Whether ``value`` is a calendar date written ``YYYY-MM-DD`` (ISO 8601's extended calendar form, ASCII
    digits): the only form the central compares as text. Python 3.11's ``date.fromisoformat`` also reads week
    dates (``2026-W01-1``) and other digits, which sort outside every period and would never be counted."""
    if not isinstance(value, str) or _ISO_DATE_RE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_submission(record: Mapping[str, Any]) -> None:
    # the optional "sms" is read as a flag and never stored as text: whatever it holds is no reason to refuse
    _check_text({key: value for key, value in record.items() if key != "sms"})
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
    # the optional SMS opt-in (docs/protocol.md) is never a reason to refuse a citizen's submission: any value
    # is read by sms_opt_in (anything but true or 1 means no SMS)


def sms_opt_in(value: Any) -> bool:
    """Whether a submission record's optional ``sms`` field asks for SMS (docs/protocol.md, "submissions"):
    True for ``true`` or the number ``1``; False for ``false``, ``0``, null, absent, and any other value (a
    string, another number, an object), which never makes the record refused."""
    if isinstance(value, bool):
        return value
    return type(value) in (int, float) and value == 1


def _is_rating(value: Any) -> bool:
    return type(value) is int and 1 <= value <= 4


def _check_rating(record: Mapping[str, Any]) -> None:
    """A satisfaction rating (docs/protocol.md, "Ratings"; PermenPANRB 14/2017: nine elements rated 1-4)."""
    _check_text(record)
    _need(record, "uuid", lambda v: isinstance(v, str) and _TOKEN_RE.fullmatch(v) is not None,
          "a UUID (letters, digits, '-' or '_', 1-64)")  # fmt: skip
    _need(record, "service", lambda v: v in SKM_SERVICES, "one of " + ", ".join(SKM_SERVICES))
    _need(record, "day", _is_iso_date, "an ISO date")
    _need(record, "ratings", lambda v: isinstance(v, dict), "an object")
    ratings = record["ratings"]
    unknown = sorted(set(ratings) - set(SKM_ELEMENTS))
    if unknown:
        raise _Bad(f"'ratings' names an unknown element {_printable(str(unknown[0]))!r}")
    if not all(v is None or _is_rating(v) for v in ratings.values()):
        raise _Bad("'ratings' holds a value that is not an integer 1-4 or null")
    if all(v is None for v in ratings.values()):
        raise _Bad("'ratings' rates no element")


_CHECKERS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    Stream.READINGS: _check_reading,
    Stream.EVENTS: _check_event,
    Stream.SUBMISSIONS: _check_submission,
    Stream.RATINGS: _check_rating,
}
