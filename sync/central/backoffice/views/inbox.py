"""The inbox page."""

from __future__ import annotations

from flask import render_template, request

from sync.central.app import central
from sync.central.backoffice import inbox as inbox_query
from sync.central.backoffice import intake
from sync.central.backoffice.cases import STATUSES, close_quiet_complaints
from sync.central.backoffice.session import now_ms, officer
from sync.central.backoffice.views import blueprint, requires

bp = blueprint("inbox")
FILTERS = ("kind", "status", "gateway", "opd", "category", "due", "q", "sort")


@bp.get("/kotak-masuk")
@requires("inbox")
def inbox() -> str:
    """Every case the officer may see, newest first by default; filters, search, sort and paging in the URL."""
    engine, at = central().engine, now_ms()
    intake.sync_cases(engine)
    close_quiet_complaints(engine, at)
    args = {k: request.args.get(k, "").strip()[:100] for k in FILTERS}
    query = inbox_query.Query(**args, page=max(1, request.args.get("page", 1, type=int) or 1))  # type: ignore[arg-type]
    query.sort = query.sort or "baru"
    result = inbox_query.search(engine, officer(), query, intake.office_date(at))
    return render_template("backoffice/inbox.html", result=result, args=args, statuses=STATUSES,
                           facets=inbox_query.facets(engine), sorts=list(inbox_query.SORTS))  # fmt: skip
