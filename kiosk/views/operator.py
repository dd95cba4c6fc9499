"""Operator pages behind a password (a werkzeug hash in ``[kiosk] operator_password_hash``; login rate-limited).

Health (store size, backlog per stream, last sync, nodes, alerts), recent submissions without personal data,
the submissions the central refused (with its reason; they can be sent again after a fix), and a printer test. With no hash configured the operator pages are off (404).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from gateway.printing import PrinterError, Slip, print_slip
from gateway.store import deadletters
from gateway.store import kiosk as kiosk_queries
from kiosk import forms
from kiosk.views import store

log = logging.getLogger(__name__)
bp = Blueprint("operator", __name__, url_prefix="/operator")


def _enabled() -> bool:
    return bool(current_app.config["KIOSK_PASSWORD_HASH"])


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _enabled():
            abort(404)
        if not session.get("operator"):
            return redirect(url_for("operator.login"))
        return view(*args, **kwargs)

    return wrapper


@bp.route("/masuk", methods=["GET", "POST"])
def login() -> Any:
    """Operator login; 404 when no password is configured; 429 after too many attempts."""
    if not _enabled():
        abort(404)
    form = forms.LoginForm()
    if form.validate_on_submit():
        if check_password_hash(current_app.config["KIOSK_PASSWORD_HASH"], form.password.data or ""):
            session.clear()
            session["operator"] = True
            return redirect(url_for("operator.health"))
        log.warning("operator login refused")
        form.password.errors = ["✗"]
        return render_template("operator/login.html", form=form, failed=True), 401
    return render_template("operator/login.html", form=form, failed=False)


@bp.post("/keluar")
@operator_required
def logout() -> Any:
    session.clear()
    return redirect(url_for("public.home"))


@bp.get("/")
@operator_required
def health() -> str:
    s = store()
    return render_template(
        "operator/health.html", used_mb=s.used_bytes() / 2**20, budget_mb=(s.budget_bytes or 0) / 2**20,
        backlog=s.backlog(), nodes=s.nodes(), alerts=kiosk_queries.alert_states(s),
        counts=kiosk_queries.submission_counts(s), cursor=s.get_meta("changes_cursor"),
        form=forms.FlaskForm(),
    )  # fmt: skip


@bp.get("/pengajuan")
@operator_required
def submissions() -> str:
    """Recent submissions, and those the central refused (with its reason), never personal data."""
    s = store()
    return render_template(
        "operator/submissions.html", rows=kiosk_queries.recent_submissions(s, 200),
        refused=deadletters.listing(s, "submissions"), form=forms.FlaskForm(),
    )  # fmt: skip


@bp.post("/pengajuan/kirim-ulang")
@operator_required
def resend() -> Any:
    """Ask for refused submissions to be sent again by the sync (form field ``seq``: one, else all); 400 on a
    bad CSRF token or seq."""
    form = forms.FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    seq = request.form.get("seq", "")
    if seq and not seq.isdigit():
        abort(400)
    count = deadletters.request_retry(store(), "submissions", [int(seq)] if seq else None)
    flash(str(count), "resend")
    return redirect(url_for("operator.submissions"))


@bp.post("/tes-printer")
@operator_required
def printer_test() -> Any:
    printer = current_app.config["KIOSK_PRINTER"]
    if not printer:
        flash("none")
        return redirect(url_for("operator.health"))
    slip = Slip(current_app.config["KIOSK_OFFICE"], "TES PRINTER", "TEST-000000-00000", datetime.now(), None,
                "TEST", ("Printer berfungsi.",))  # fmt: skip
    try:
        print_slip(printer, slip)
        flash("printed")
    except PrinterError as err:
        log.warning("printer test: %s", err)
        flash("failed")
    return redirect(url_for("operator.health"))
