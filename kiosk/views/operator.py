"""Operator pages behind a password (a werkzeug hash in ``[kiosk] operator_password_hash``; login rate-limited).

Health (store size, backlog per stream, last sync, nodes, alerts), recent submissions without personal data,
the submissions the central refused (with its reason; they can be sent again after a fix), and a printer
test. With no hash configured the operator pages are off (404).

Sessions live on the server (in the store): the kiosk's session only names one, so logging out, the idle reset
(``/selesai``), ``KIOSK_OPERATOR_IDLE_SECONDS`` without use or ``KIOSK_OPERATOR_MAX_AGE_SECONDS`` since login
end it for good, whoever kept a copy of the cookie. Failed logins are counted per account (the kiosk has one,
``operator``), whatever address they come from: after ``KIOSK_LOGIN_FREE_FAILURES`` the account is locked for
a delay that doubles with each further failure (``KIOSK_LOGIN_LOCK_BASE_SECONDS`` .. ``_CAP_SECONDS``),
answered 429 without the password being checked; a success clears the count. Each attempt is counted before
its password is checked, in the transaction that looked at the lock (``login_attempt``), so attempts arriving
together cannot all pass the check: at most the free failures + 1 passwords are ever checked before the lock.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from kiosk import forms, sessions
from kiosk.printing import PrinterError, Slip, print_slip
from kiosk.views import store

log = logging.getLogger(__name__)
bp = Blueprint("operator", __name__, url_prefix="/operator")


def _enabled() -> bool:
    return bool(current_app.config["KIOSK_PASSWORD_HASH"])


ACCOUNT = "operator"


def _ms(setting: str) -> int:
    return int(float(current_app.config[setting]) * 1000)


def signed_in() -> bool:
    """Whether this request carries a live operator session (checked in the store)."""
    return store().operator_session_valid(session.get("operator"),
                                                _ms("KIOSK_OPERATOR_IDLE_SECONDS"),
                                                _ms("KIOSK_OPERATOR_MAX_AGE_SECONDS"))  # fmt: skip


def end_session() -> None:
    """End this request's operator session on the server, if it has one (logout and the idle reset)."""
    store().operator_session_end(session.get("operator"))


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _enabled():
            abort(404)
        if not signed_in():
            session.pop("operator", None)
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
        cfg = current_app.config
        locked = store().login_attempt(ACCOUNT, int(cfg["KIOSK_LOGIN_FREE_FAILURES"]),
                                             float(cfg["KIOSK_LOGIN_LOCK_BASE_SECONDS"]),
                                             float(cfg["KIOSK_LOGIN_LOCK_CAP_SECONDS"]))  # fmt: skip
        if locked > 0:
            log.warning("operator login refused: the account is locked for %.0f s", locked)
            abort(429)
        if check_password_hash(cfg["KIOSK_PASSWORD_HASH"], form.password.data or ""):
            store().login_succeeded(ACCOUNT)
            end_session()
            session.clear()
            session["operator"] = store().operator_session_start(_ms("KIOSK_OPERATOR_MAX_AGE_SECONDS"))
            sessions.new_id(session)  # a copy of the cookie taken before the login is worth nothing
            return redirect(url_for("operator.health"))
        lock = store().login_locked_for(ACCOUNT)  # the attempt was counted before the check
        log.warning("operator login refused%s", f"; the account is locked for {lock:.0f} s" if lock else "")
        form.password.errors = ["✗"]
        return render_template("operator/login.html", form=form, failed=True), 401
    return render_template("operator/login.html", form=form, failed=False)


@bp.post("/keluar")
@operator_required
def logout() -> Any:
    end_session()
    session.clear()
    return redirect(url_for("public.home"))


@bp.get("/")
@operator_required
def health() -> str:
    s = store()
    return render_template(
        "operator/health.html", used_mb=s.used_bytes() / 2**20, budget_mb=(s.budget_bytes or 0) / 2**20,
        backlog=s.backlog(), nodes=s.nodes(), alert_states=s.alert_states(),
        counts=s.submission_counts(), cursor=s.get_meta("changes_cursor"),
        form=forms.FlaskForm(),
    )  # fmt: skip


@bp.get("/pengajuan")
@operator_required
def submissions() -> str:
    """Recent submissions, and those the central refused (with its reason), never personal data."""
    s = store()
    return render_template(
        "operator/submissions.html", rows=s.recent_submissions(200),
        refused=s.dead_letters("submissions"), form=forms.FlaskForm(),
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
    count = store().request_dead_letter_retry("submissions", [int(seq)] if seq else None)
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
