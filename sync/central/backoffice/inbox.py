"""The inbox: every case an officer may see, filtered, searched, sorted and paged. Never personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.central.backoffice import calendar, labels
from sync.central.backoffice.accounts import Officer
from sync.central.backoffice.cases import ACTIVE, visible
from sync.central.backoffice.models import cases, opds
from sync.central.db import gateways

SORTS = {
    "baru": (cases.c.received_ms.desc(), cases.c.number.desc()),
    "lama": (cases.c.received_ms, cases.c.number),
    "tenggat": (cases.c.due_date.asc().nulls_last(), cases.c.received_ms),
    "nomor": (cases.c.number,),
}
DUE_SOON_DAYS = 2
COUNT_CAP = (
    10_000  # matches are counted up to this many ("10000+"): counting them all costs more than the page
)
_WORD_RE = re.compile(r"\w+", re.UNICODE)
COLUMNS = (cases.c.gateway_id, cases.c.number, cases.c.kind, cases.c.received_date, cases.c.category,
           cases.c.title, cases.c.anonymous, cases.c.confidential, cases.c.status, cases.c.opd, cases.c.due_date,
           cases.c.extended, cases.c.related_number)  # fmt: skip


@dataclass
class Query:
    """What the officer asked for (every field optional; unknown values are ignored)."""

    kind: str = ""
    status: str = ""
    gateway: str = ""
    opd: str = ""
    category: str = ""
    due: str = ""  # "terlambat" (overdue) or "segera" (due within 2 working days)
    q: str = ""
    sort: str = "baru"
    page: int = 1
    page_size: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def _conditions(query: Query, me: Officer, today: date, soon: date) -> list[Any]:
    where: list[Any] = [visible(me)]
    for column, value in ((cases.c.kind, query.kind), (cases.c.status, query.status),
                          (cases.c.gateway_id, query.gateway), (cases.c.opd, query.opd),
                          (cases.c.category, query.category)):  # fmt: skip
        if value:
            where.append(column == value)
    if query.due == "terlambat":
        where += [cases.c.is_open.is_(True), cases.c.status.in_(ACTIVE), cases.c.due_date < today.isoformat()]
    elif query.due == "segera":
        where += [cases.c.is_open.is_(True), cases.c.status.in_(ACTIVE),
                  cases.c.due_date >= today.isoformat(), cases.c.due_date <= soon.isoformat()]  # fmt: skip
    return where


def _search(dialect: str, text: str) -> Any:
    """Every word of ``text`` must occur in the public text (as a word prefix on PostgreSQL's full-text index)."""
    words = [w.lower() for w in _WORD_RE.findall(text)][:8]
    if not words:
        return sa.true()
    if dialect == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)  # the GIN-indexed column made by migration bo01
        return sa.literal_column("bo_cases.search_vector").op("@@")(
            sa.func.to_tsquery(sa.literal_column("'simple'"), tsquery))  # fmt: skip
    return sa.and_(*(cases.c.search_text.contains(w, autoescape=True) for w in words))


def search(conn: Connection, me: Officer, query: Query, today: date) -> dict[str, Any]:
    """One page of the inbox: ``{"rows", "total", "more", "page", "pages"}`` (``more``: there are more matches
    than the ``total`` counted, which stops at COUNT_CAP); each row carries ``days_left`` (working
    days to its deadline, negative when overdue) and ``urgency`` ("overdue", "soon" or "")."""
    cal = calendar.load(conn)
    soon = cal.add_working_days(today, DUE_SOON_DAYS)
    where = _conditions(query, me, today, soon)
    if query.q.strip():
        where.append(_search(conn.dialect.name, query.q))
    matching = sa.select(sa.literal(1)).select_from(cases).where(*where).limit(COUNT_CAP + 1).subquery()
    total = conn.execute(sa.select(sa.func.count()).select_from(matching)).scalar_one()
    order = SORTS.get(query.sort, SORTS["baru"])
    page = max(1, query.page)
    rows = conn.execute(sa.select(*COLUMNS).where(*where).order_by(*order)
                        .limit(query.page_size).offset((page - 1) * query.page_size)).mappings().all()  # fmt: skip
    out = []
    for row in rows:
        item = dict(row)
        item["days_left"], item["urgency"] = _urgency(item, cal, today, soon)
        out.append(item)
    pages = max(1, -(-min(int(total), COUNT_CAP) // query.page_size))
    return {"rows": out, "total": min(int(total), COUNT_CAP), "more": int(total) > COUNT_CAP, "page": page,
            "pages": pages}  # fmt: skip


def _urgency(row: dict[str, Any], cal: Any, today: date, soon: date) -> tuple[int | None, str]:
    if not row["due_date"] or row["status"] not in ACTIVE:
        return None, ""
    due = date.fromisoformat(row["due_date"])
    if due < today:
        return -cal.working_days_between(due, today), "overdue"
    return cal.working_days_between(today, due), "soon" if due <= soon else ""


CATEGORIES = tuple(labels.COMPLAINT_CATEGORIES)  # SP4N-LAPOR! village categories


def facets(conn: Connection) -> dict[str, list[str]]:
    """The values the filters offer: the kiosks, the OPDs and the complaint categories."""
    kiosks = conn.execute(sa.select(gateways.c.id).order_by(gateways.c.id)).scalars().all()
    units = conn.execute(sa.select(opds.c.code).order_by(opds.c.code)).scalars().all()
    return {"gateway": list(kiosks), "opd": list(units), "category": list(CATEGORIES)}
