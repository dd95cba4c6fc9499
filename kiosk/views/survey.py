"""The citizens' satisfaction survey (Survei Kepuasan Masyarakat, PermenPANRB 14/2017; docs/skm.md).

After a service (a receipt shown, a status checked) the receipt and status pages offer ``/survei/<service>``:
nine questions, one per element of the Permen (U1-U9), each answered by one tap on one of four faces
(1 tidak baik .. 4 sangat baik). Any question may be left out, and the whole survey skipped. The rating is
anonymous: what is stored (``Store.add_rating``) is the service, the day and the ratings, never the
submission's number, the citizen's NIK, the session or the time of day; the survey's URL names only the kind
of service. The rating is held until the kiosk's day is over; then the day's ratings join the sync stream
in random order, in groups of at least five of one service (else later, under their week or month:
``gateway.store.ratings.k_anonymous``). The form's random key (its ``uuid``) makes a double tap store one rating.

A rating follows a finished service: showing a receipt or a status page grants the session one rating of that
kind of service (:func:`allow`), and a stored rating spends it for good. So one kiosk session (from the first
page to "Selesai" or the idle reset, which clear the session) gives at most one rating per kind of service,
however many submissions it files or numbers it looks up: PermenPANRB 14/2017 asks for one response per
service user, and looking up other people's numbers must not buy more ratings. A rating sent without an
allowance is refused politely (403) and nothing is stored, so a client cannot stuff the survey by sending the
form again and again.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.validators import Optional

from gateway.errors import StoreError
from gateway.vocabulary import SKM_ELEMENTS, SkmElement, SkmService
from kiosk.forms import _choices
from kiosk.views import kiosk_today, kiosk_tz, store

log = logging.getLogger(__name__)
bp = Blueprint("survey", __name__)

# The survey's URL word for each service (the pages keep Indonesian names).
SERVICES: dict[str, SkmService] = {
    "permohonan": SkmService.REQUEST,
    "pengaduan": SkmService.COMPLAINT,
    "keberatan": SkmService.OBJECTION,
    "cek-status": SkmService.STATUS_CHECK,
}
SERVICE_SLUGS: dict[str, str] = {service.value: slug for slug, service in SERVICES.items()}

# The element's name and its question (PermenPANRB 14/2017, Lampiran: the nine "unsur" of the survey).
QUESTIONS: dict[str, tuple[Any, Any]] = {
    SkmElement.U1: (_l("Persyaratan"), _l("Apakah persyaratan layanan ini sesuai dan jelas?")),
    SkmElement.U2: (_l("Prosedur"), _l("Apakah cara dan langkah layanan ini mudah?")),
    SkmElement.U3: (_l("Waktu penyelesaian"), _l("Apakah layanan ini cepat?")),
    SkmElement.U4: (_l("Biaya/tarif"), _l("Apakah biaya layanan ini wajar (atau gratis)?")),
    SkmElement.U5: (_l("Hasil layanan"), _l("Apakah hasil layanan sesuai dengan yang dijanjikan?")),
    SkmElement.U6: (_l("Kemampuan petugas"), _l("Apakah petugas mampu dan paham?")),
    SkmElement.U7: (_l("Perilaku petugas"), _l("Apakah petugas sopan dan ramah?")),
    SkmElement.U8: (_l("Penanganan pengaduan"), _l("Apakah saran dan pengaduan ditangani dengan baik?")),
    SkmElement.U9: (_l("Sarana dan prasarana"), _l("Apakah anjungan dan tempat layanan ini nyaman?")),
}
# The four answers, worst first (1-4), each with its face (kiosk/templates/_faces.html)
ANSWERS: list[tuple[str, Any]] = [
    ("1", _l("Tidak baik")),
    ("2", _l("Kurang baik")),
    ("3", _l("Baik")),
    ("4", _l("Sangat baik")),
]


class SurveyForm(FlaskForm):
    """Nine optional 1-4 answers (``u1`` .. ``u9``) and the form's random key."""

    kunci = HiddenField(default=lambda: str(uuid.uuid4()))


for _element in SKM_ELEMENTS:
    setattr(
        SurveyForm,
        _element,
        RadioField(QUESTIONS[_element][1], choices=_choices(ANSWERS), validators=[Optional()], coerce=str),
    )


def _service(slug: str) -> SkmService:
    service = SERVICES.get(slug)
    if service is None:
        abort(404)
    return service


ALLOWED = "survey_allowed"  # session: the service slugs this session may still rate (one rating each)
RATED = "survey_rated"  # session: the service slugs this session has rated (never granted again)
SENT = "survey_sent"  # session: the keys of the forms stored (a double tap is thanked, not refused)
KEPT = 8  # the most sent keys a session remembers (a session is kept in memory: small)


def allow(service: str) -> None:
    """Grant this session its one rating of ``service`` (a submission kind, or ``status-check``) once that
    service was given (a receipt or a status shown), unless the session holds it already or has rated that
    service: one rating per kind of service per kiosk session (PermenPANRB 14/2017: one response per service
    user; docs/skm.md). Called by kiosk/views/submit.py."""
    slug = SERVICE_SLUGS.get(service)
    if slug is None or slug in session.get(RATED, []) or slug in session.get(ALLOWED, []):
        return
    session[ALLOWED] = [*session.get(ALLOWED, []), slug]


def _spend(slug: str) -> bool:
    """Spend this session's rating of ``slug`` for good; False when it has none."""
    allowed = list(session.get(ALLOWED, []))
    if slug not in allowed:
        return False
    session[ALLOWED] = [s for s in allowed if s != slug]
    session[RATED] = [*session.get(RATED, []), slug]
    return True


def _unspend(slug: str) -> None:
    """Give back the rating of ``slug`` spent by a rating the store could not save."""
    session[RATED] = [s for s in session.get(RATED, []) if s != slug]
    if slug not in session.get(ALLOWED, []):
        session[ALLOWED] = [*session.get(ALLOWED, []), slug]


def _key(text: str | None) -> str:
    """The form's key as a canonical UUID; a fresh one when it is not one (nothing else is stored)."""
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        return str(uuid.uuid4())


@bp.route("/survei/<slug>", methods=["GET", "POST"])
def survey(slug: str) -> Any:
    """The survey about service ``slug`` (permohonan, pengaduan, keberatan, cek-status); a POST saves the
    answers given (none: nothing is saved) and thanks the citizen; 403 (a polite page, nothing saved) when this
    session has no rating of this service left to give (see the module's text); 503 when the store fails."""
    service = _service(slug)
    form = SurveyForm()
    if not form.is_submitted() and slug in session.get(RATED, []):  # said at once, not after nine questions
        return render_template("survey_thanks.html", rated=False, refused=True), 403
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("survey.html", form=form, slug=slug, questions=QUESTIONS,
                               elements=SKM_ELEMENTS), status  # fmt: skip
    ratings = {e: int(getattr(form, e).data) for e in SKM_ELEMENTS if getattr(form, e).data}
    if ratings:
        key = _key(form.kunci.data)
        if key in session.get(SENT, []):  # a double tap or a resend: stored once already
            return render_template("survey_thanks.html", rated=True)
        if not _spend(slug):
            return render_template("survey_thanks.html", rated=False, refused=True), 403
        day = kiosk_today()
        day_ends = datetime.combine(day + timedelta(days=1), time(), kiosk_tz())  # held until the day is over
        try:
            store().add_rating(service, ratings, day=day, uuid=key,
                               release_ms=int(day_ends.timestamp() * 1000))  # fmt: skip
        except StoreError as err:
            log.error("a rating could not be saved: %s", err)
            _unspend(slug)  # not spent: the citizen may send again
            return Response(render_template("error.html", code=503), status=503)
        session[SENT] = [*session.get(SENT, []), key][-KEPT:]
    return render_template("survey_thanks.html", rated=bool(ratings))


@bp.app_context_processor
def survey_globals() -> dict[str, Any]:
    """``survey_slugs``: a submission kind -> the survey's URL word, for the receipt's link to the survey;
    ``may_rate(slug)``: whether this session still holds its rating of that service (the link is shown only
    then)."""

    def may_rate(slug: str) -> bool:
        return slug in session.get(ALLOWED, [])

    return {"survey_slugs": SERVICE_SLUGS, "may_rate": may_rate}
