"""The inbox page."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy.engine import Connection

from gateway.vocabulary import SUBMISSION_KINDS
from sync.central.app import central
from sync.central.backoffice import inbox as inbox_query
from sync.central.backoffice import intake
from sync.central.backoffice.cases import STATUSES, close_quiet_complaints, quiet_complaints
from sync.central.backoffice.session import now_ms, officer
from sync.central.backoffice.views import blueprint, page_arg, requires

bp = blueprint("inbox")
FILTERS = ("kind", "status", "gateway", "opd", "category", "due", "q", "sort")


@bp.get("/kotak-masuk")
@requires("inbox")
def inbox() -> str:
    """Every case the officer may see, newest first by default; filters, search, sort and paging in the URL."""
    engine, at = central().engine, now_ms()
    args = {k: request.args.get(k, "").strip()[:100] for k in FILTERS}
    query = inbox_query.Query(**args, page=page_arg())  # type: ignore[arg-type]
    query.sort = query.sort or "baru"
    with engine.connect() as conn:  # the usual case: nothing new, one connection for the whole page
        if not intake.behind(conn) and not quiet_complaints(conn, at):
            return _render(conn, query, args, at)
    intake.sync_cases(engine)
    close_quiet_complaints(engine, at)
    with engine.connect() as conn:
        return _render(conn, query, args, at)


def _render(conn: Connection, query: inbox_query.Query, args: dict[str, str], at: int) -> str:
    result = inbox_query.search(conn, officer(), query, intake.office_date(at))
    return render_template("backoffice/inbox.html", result=result, args=args, kinds=SUBMISSION_KINDS, statuses=STATUSES,
                           facets=inbox_query.facets(conn), sorts=list(inbox_query.SORTS))  # fmt: skip
