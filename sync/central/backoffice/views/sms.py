"""The SMS to citizens that did not go out (docs/sms.md): failed ones and those being retried, with the masked
number, the registration number, the attempts and the last error; a retry button queues a failed one again
(audited); a modem or gateway that is down, since when and why. Never a phone number in the clear."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from sync.central.app import central
from sync.central.backoffice import audit, forms
from sync.central.backoffice.session import actor, now_ms
from sync.central.backoffice.views import MAX_ID, blueprint, requires
from sync.central.db import reading as reading_snapshot
from sync.central.sms import worker

bp = blueprint("sms")


@bp.get("/sms")
@requires("sms")
def failures() -> str:
    """The SMS that failed or are being retried, newest first, and how many are in each state."""
    with reading_snapshot(central().engine) as conn:
        rows, counts, overdue = worker.troubles(conn), worker.counts(conn), worker.overdue(conn, now_ms())
        channels = worker.channel_states(conn)  # a modem or gateway that is down
    return render_template("backoffice/sms.html", rows=rows, counts=counts, overdue=overdue,
                           channels=channels, action_form=forms.EmptyForm())  # fmt: skip


@bp.post("/sms/<int:message_id>/ulang")
@requires("sms")
def retry(message_id: int) -> Any:
    """Queue a failed SMS again (due now, attempts from zero); audited as ``sms-retry``. 404 when there is no
    failed SMS of that id."""
    if message_id > MAX_ID:
        raise NotFound()
    engine, at = central().engine, now_ms()
    with engine.begin() as conn:
        before = worker.retry(conn, message_id, at)
        if before is None:
            raise NotFound()
        audit.record(conn, actor(), "sms-retry", f"{before['gateway_id']}/{before['number']}", at,
                     {"sms": message_id, "state": "failed", "attempts": before["attempts"]},
                     {"state": "pending"})  # fmt: skip
    flash(_("SMS #%(id)d dikirim ulang.", id=message_id))
    return redirect(url_for(".failures"))
