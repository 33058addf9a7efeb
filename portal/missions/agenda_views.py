"""Agendas: a participant's meetings in their own time zone, the .ics file and the
private subscription URL, the printable agenda, and what came of each meeting.

Views are thin: they find the participant, call one function of ``agenda`` or
``outcomes``, commit once and redirect, or re-render with the form's errors (400). Who
may see what: a member sees their own organization's agenda (published meetings only);
staff see anyone's, drafts included; the subscription URL needs no login, its token is
the secret. Contacts of the other side come only through ``visible_contacts``.

The .ics file speaks the language of the member who downloads it. A calendar program
polling the subscription URL is no member: the URL carries the language of the member
who copied it from their agenda page (``?lang=vi``), since the token is the
organization's, not one person's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from portal.accounts.access import staff_required
from portal.extensions import db
from portal.i18n.formatting import current_locale, is_english
from portal.i18n.locales import is_shipped
from portal.introductions.services import DuplicateIntroduction, IntroductionError, NotAllowed
from portal.missions import agenda as agendas
from portal.missions import outcomes
from portal.missions.agenda_forms import CalendarTokenForm, OpenIntroductionForm, OutcomeForm
from portal.missions.models import MissionEvent, Participant
from portal.missions.registration import find_participant
from portal.missions.services import find_event
from portal.organizations.services import is_staff, visible_contacts

bp = Blueprint("agendas", __name__, url_prefix="/events")

Page = str | tuple[str, int]


def _event_or_404(ref: str) -> MissionEvent:
    event = find_event(ref)
    if event is None:
        abort(404)
    return event


def _own_participant(ref: str) -> tuple[MissionEvent, Participant | None]:
    event = _event_or_404(ref)
    return event, find_participant(event, getattr(current_user, "organization_id", None))


def _event_page(event: MissionEvent) -> str | None:
    """The event's page, if the event pages (``missions.detail``) are there to link to."""
    try:
        return url_for("missions.detail", ref=event.ref)
    except BuildError:
        return None


def _not_registered(event: MissionEvent) -> tuple[str, int]:
    page = render_template("missions/agenda_none.html", event=event, event_url=_event_page(event))
    return page, 404


def _registered(
    view: Callable[..., Response | Page],
) -> Callable[..., Response | Page]:
    """Call ``view(event, participant, ...)`` with the member's own participant; the
    not-registered page (404) if their organization does not take part."""

    @wraps(view)
    def wrapper(ref: str, **kwargs: int) -> Response | Page:
        event, participant = _own_participant(ref)
        if participant is None:
            return _not_registered(event)
        return view(event, participant, **kwargs)

    return wrapper


def _participant_or_404(ref: str, org_ref: str) -> tuple[MissionEvent, Participant]:
    """Any participant of the event by its organization's reference (staff pages)."""
    event = _event_or_404(ref)
    participant = agendas.participant_by_ref(event, org_ref)
    if participant is None:
        abort(404)
    return event, participant


def _calendar_changed(event: MissionEvent, message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".mine", ref=event.ref) + "#calendar")


def _outcome_form(item: agendas.AgendaItem) -> OutcomeForm:
    own = item.outcome
    data = {"attendance": own.attendance, "rating": own.rating, "note": own.note} if own else {}
    return OutcomeForm(formdata=None, prefix=f"outcome-{item.request.id}", data=data)


def _page(
    agenda: agendas.Agenda,
    *,
    staff_view: bool,
    failed: tuple[int, OutcomeForm | OpenIntroductionForm] | None = None,
) -> Page:
    """The agenda page; ``failed`` is the (request id, form) that came back with errors."""
    outcome_forms = {item.request.id: _outcome_form(item) for item in agenda.items}
    intro_forms = {}
    offers = {}
    for item in agenda.items:
        offers[item.request.id] = outcomes.introduction_offer(item.request)
        intro_forms[item.request.id] = OpenIntroductionForm(
            formdata=None, prefix=f"intro-{item.request.id}"
        )
    if failed is not None:
        request_id, form = failed
        if isinstance(form, OutcomeForm):
            outcome_forms[request_id] = form
        else:
            intro_forms[request_id] = form
    page = render_template(
        "missions/agenda.html",
        agenda=agenda,
        event=agenda.event,
        event_url=_event_page(agenda.event),
        participant=agenda.participant,
        staff_view=staff_view,
        contacts={
            item.request.id: visible_contacts(item.other_organization, current_user)
            for item in agenda.items
        },
        introductions={
            item.request.id: outcomes.introduction_of(item.request) for item in agenda.items
        },
        outcome_forms=outcome_forms,
        intro_forms=intro_forms,
        offers=offers,
        token_form=CalendarTokenForm(),
        subscription_url=subscription_url(agenda.participant),
        attendance_labels=outcomes.ATTENDANCE_LABELS,
        rating_labels=outcomes.RATING_LABELS,
    )
    return (page, 400) if failed is not None else page


@bp.get("/<ref>/agenda")
@login_required
def mine(ref: str) -> Page | Response:
    """The logged-in member's organization's agenda at this event."""
    event, participant = _own_participant(ref)
    if participant is None:
        if is_staff(current_user):
            flash(
                gettext("Staff see each participant's agenda from the event's participants."),
                "info",
            )
        return _not_registered(event)
    return _page(agendas.agenda_of(participant), staff_view=False)


def _ics_response(agenda: agendas.Agenda, *, download: bool) -> Response:
    response = Response(agendas.agenda_ics(agenda), mimetype="text/calendar")
    response.charset = "utf-8"
    response.headers["Cache-Control"] = "private, no-cache"
    if download:
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", agenda.event.ref).strip("-") or "event"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}-agenda.ics"'
    return response


@bp.get("/<ref>/agenda.ics")
@login_required
@_registered
def ics(event: MissionEvent, participant: Participant) -> Response | Page:
    """The member's agenda as an .ics file to import once."""
    return _ics_response(agendas.agenda_of(participant), download=True)


def subscription_url(participant: Participant) -> str | None:
    """The participant's private feed, named in the language of the member reading the
    page (English names none)."""
    if participant.calendar_token is None:
        return None
    lang = None if is_english() else str(current_locale())
    return url_for(
        "agendas.subscription", token=participant.calendar_token, lang=lang, _external=True
    )


@bp.get("/calendar/<token>.ics")
def subscription(token: str) -> Response:
    """The private subscription feed: no login, the token is the secret. Calendars poll
    it, so moved meetings move and cancelled ones disappear. Worded in the language its
    URL names (``lang``); a URL that names none, in the calendar program's (its
    Accept-Language, else English)."""
    participant = agendas.participant_by_token(token)
    if participant is None:
        abort(404)
    lang = request.args.get("lang")
    with force_locale(lang) if is_shipped(lang) else nullcontext():
        response = _ics_response(agendas.agenda_of(participant), download=False)
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/<ref>/agenda/calendar")
@login_required
@_registered
def new_calendar_url(event: MissionEvent, participant: Participant) -> Response | Page:
    """Make (or replace) the private subscription URL; the old one stops working."""
    if not CalendarTokenForm().validate_on_submit():
        abort(400)
    had_one = participant.calendar_token is not None
    agendas.new_calendar_token(participant)
    return _calendar_changed(
        event,
        gettext("New subscription URL made; the old one no longer works.")
        if had_one
        else gettext("Your private subscription URL is ready."),
    )


@bp.post("/<ref>/agenda/calendar/revoke")
@login_required
@_registered
def revoke_calendar_url(event: MissionEvent, participant: Participant) -> Response | Page:
    if not CalendarTokenForm().validate_on_submit():
        abort(400)
    agendas.revoke_calendar_token(participant)
    return _calendar_changed(event, gettext("The subscription URL no longer works."))


@bp.get("/<ref>/agenda/<org_ref>")
@staff_required
def staff_agenda(ref: str, org_ref: str) -> Page:
    """Any participant's agenda for staff, drafts included, in the participant's zone."""
    _, participant = _participant_or_404(ref, org_ref)
    return _page(agendas.agenda_of(participant, drafts=True), staff_view=True)


@bp.post("/<ref>/agenda/meetings/<int:request_id>/outcome")
@login_required
@_registered
def outcome(event: MissionEvent, participant: Participant, request_id: int) -> Response | Page:
    """The member's side says whether the meeting was held and how it went."""
    agenda = agendas.agenda_of(participant)
    item = agendas.find_item(agenda, request_id)
    if item is None:
        abort(404)
    form = OutcomeForm(prefix=f"outcome-{request_id}")
    if not form.validate_on_submit():
        return _page(agenda, staff_view=False, failed=(request_id, form))
    try:
        outcomes.record_outcome(
            participant,
            item.meeting,
            current_user,
            attendance=form.attendance.data or "",
            rating=form.rating.data or "",
            note=form.note.data or "",
        )
    except outcomes.OutcomeError as error:
        db.session.rollback()
        field = form._fields.get(error.field or "rating")
        field.errors = [*field.errors, str(error)]  # type: ignore[union-attr]
        return _page(agendas.agenda_of(participant), staff_view=False, failed=(request_id, form))
    db.session.commit()
    flash(
        gettext(
            "Thank you: your word on the meeting with %(name)s is saved.",
            name=item.other_organization.name,
        ),
        "success",
    )
    return redirect(url_for(".mine", ref=event.ref) + f"#meeting-{request_id}")


@bp.post("/<ref>/agenda/<org_ref>/meetings/<int:request_id>/introduction")
@staff_required
def open_introduction(ref: str, org_ref: str, request_id: int) -> Response | Page:
    """Staff open the introduction both sides asked for by rating "cooperation possible"."""
    event, participant = _participant_or_404(ref, org_ref)
    agenda = agendas.agenda_of(participant, drafts=True)
    item = agendas.find_item(agenda, request_id)
    if item is None:
        abort(404)
    form = OpenIntroductionForm(prefix=f"intro-{request_id}")
    if not form.validate_on_submit():
        abort(400)
    try:
        introduction = outcomes.open_introduction(
            item.request,
            current_user._get_current_object(),
            confirm_duplicate=bool(form.confirm.data),
        )
    except DuplicateIntroduction as error:
        db.session.rollback()
        form.confirm.errors = [str(error)]
        return _page(
            agendas.agenda_of(participant, drafts=True), staff_view=True, failed=(request_id, form)
        )
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except (outcomes.OutcomeError, IntroductionError) as error:
        db.session.rollback()
        flash(gettext("Nothing changed: %(error)s", error=error), "warning")
        return redirect(url_for(".staff_agenda", ref=event.ref, org_ref=org_ref))
    db.session.commit()
    flash(
        (
            gettext(
                "The introduction is open, in state introduced; both sides "
                "now see each other's contacts."
            )
        ),
        "success",
    )
    return redirect(url_for("introductions.detail", introduction_id=introduction.id))
