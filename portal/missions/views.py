"""Trade-mission pages: staff create and edit events, the public event page,
registration, meeting requests, scheduling from the page and the staff grid.

Each view parses a form, calls one service, commits once and redirects, or re-renders
with the error beside its field (status 400) after rolling back. A step the user may not
take is 403, an unknown event or record 404.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.accounts.access import staff_required
from portal.extensions import db
from portal.missions import analytics, services
from portal.missions import grid as grid_services
from portal.missions import registration as reg
from portal.missions import requests as req
from portal.missions.forms import (
    AnswerForm,
    ConfirmForm,
    EventForm,
    MoveForm,
    MustMeetForm,
    ProposeForm,
    RegistrationForm,
    RequestForm,
    ScheduleForm,
    registration_form,
)
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.organizations.services import find_organization, is_staff
from portal.request_input import int_arg
from portal.staff.dashboard import bar_chart

bp = Blueprint("missions", __name__, url_prefix="/events")

Page = str | tuple[str, int] | Response


def _event_or_404(ref: str) -> MissionEvent:
    event = services.find_event(ref)
    if event is None:
        abort(404)
    return event


def _show_error(form: FlaskForm, error: Exception) -> None:
    """The service's message beside its field, or above the form."""
    name = getattr(error, "field", None)
    field = form._fields.get(name or "")
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def _page(template: str, form: FlaskForm | None = None, **context: Any) -> str | tuple[str, int]:
    page = render_template(template, form=form, **context)
    return (page, 400) if form is not None and (form.errors or form.form_errors) else page


def _not_allowed(message: str, event: MissionEvent | None = None) -> tuple[str, int]:
    db.session.rollback()
    return render_template("missions/not_allowed.html", message=message, event=event), 403


def _save(
    form: FlaskForm,
    step: Callable[[], Any],
    refused: type[Exception],
    done: Callable[[Any], tuple[str, str]],
    *,
    forbidden: type[Exception] | tuple[()] = (),
    event: MissionEvent | None = None,
) -> Page | None:
    """Run one service step for a valid form and commit it: ``done(result)`` gives the
    message to flash and where to go. A ``forbidden`` step is the 403 page; a ``refused``
    one rolls back, its error goes beside its field and None tells the view to re-render."""
    try:
        result = step()
    except forbidden as error:
        return _not_allowed(str(error), event)
    except refused as error:
        db.session.rollback()
        _show_error(form, error)
        return None
    db.session.commit()
    message, location = done(result)
    flash(message, "success")
    return redirect(location)


def _paged(query: Any, param: str = "page") -> Any:
    """One page of ``query`` as the directories page (``PORTAL_PAGE_SIZE``); a page
    number that is not one is the first page, one past the end an empty page."""
    return db.paginate(
        query,
        page=int_arg(param, 1),
        per_page=current_app.config["PORTAL_PAGE_SIZE"],
        error_out=False,
    )


def _form_errors(form: FlaskForm) -> str:
    """A failed form's errors in one line, for a flash."""
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _confirmed() -> None:
    """A bare confirmation post (CSRF only): 400 unless it validates."""
    if not ConfirmForm().validate_on_submit():
        abort(400)


# --- events: list, create, edit, public page ------------------------------------------


@bp.get("/")
def index() -> str:
    """Every event, by first session."""
    return render_template("missions/index.html", rows=services.summaries())


def _event_values(form: EventForm) -> services.EventValues:
    return services.EventValues(
        name=form.name.data or "",
        ref=form.ref.data or "",
        city=form.city.data or "",
        country=form.country.data or "",
        venue=form.venue.data or "",
        time_zone=form.time_zone.data or "",
        sessions=form.sessions.data or "",
        meeting_minutes=form.meeting_minutes.data or 0,
        tables=form.tables.data or 0,
        online=bool(form.online.data),
        registration_closes=form.registration_closes.data,
        join_link_pattern=form.join_link_pattern.data or "",
    )


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new() -> Page:
    form = EventForm()
    if form.validate_on_submit():
        saved = _save(
            form,
            lambda: services.create_event(_event_values(form)),
            services.EventError,
            lambda event: (gettext("Event created."), url_for(".detail", ref=event.ref)),
        )
        if saved is not None:
            return saved
    return _page("missions/event_form.html", form, event=None)


@bp.route("/<ref>/edit", methods=["GET", "POST"])
@staff_required
def edit(ref: str) -> Page:
    event = _event_or_404(ref)
    form = EventForm(data=services.event_values(event))
    if form.validate_on_submit():
        saved = _save(
            form,
            lambda: services.update_event(event, _event_values(form)),
            services.EventError,
            lambda _: (gettext("Event saved."), url_for(".detail", ref=event.ref)),
        )
        if saved is not None:
            return saved
    return _page("missions/event_form.html", form, event=event)


@bp.get("/<ref>")
def detail(ref: str) -> str:
    """The public page: where and when, and the verified participants, filtered."""
    event = _event_or_404(ref)
    filters = services.ParticipantFilters.read(request.args)
    for warning in filters.warnings:
        flash(warning, "warning")
    return render_template(
        "missions/detail.html",
        event=event,
        filters=filters,
        page=_paged(services.public_participants_query(event, filters)),
        page_args={"ref": event.ref, **filters.query_args()},
        participant=reg.participant_of(event, current_user),
        slots=len(services.slot_times(event)),
        open=services.registration_open(event),
        staff=is_staff(current_user),
        session_label=services.session_label,
    )


# --- registration ---------------------------------------------------------------------


def _registration_values(form: RegistrationForm) -> reg.RegistrationValues:
    return reg.RegistrationValues(
        attends=list(form.attends.data or []),
        mode=form.mode.data or "",
        max_meetings=form.max_meetings.data,
        offers=form.offers.data or "",
        looks_for=form.looks_for.data or "",
        time_zone=form.time_zone.data or "",
    )


def _organization_to_register(form: RegistrationForm) -> Any:
    """Members register their own organization; staff pick one (the page's search gives
    its reference, carried in a hidden field)."""
    if is_staff(current_user):
        ref = (form.organization.data or request.args.get("organization") or "").strip()
        return find_organization(ref) if ref else None
    return current_user.organization


@bp.route("/<ref>/register", methods=["GET", "POST"])
@login_required
def register(ref: str) -> Page:
    event = _event_or_404(ref)
    form = registration_form(event.sessions)
    if not is_staff(current_user):
        del form.organization
    elif not form.is_submitted():
        form.organization.data = request.args.get("organization", "")
    organization = _organization_to_register(form)
    if organization is None and not is_staff(current_user):
        abort(403)  # an account without an organization
    if organization is not None:
        existing = reg.find_participant(event, organization.id)
        if existing is not None:
            return redirect(url_for(".registration", ref=event.ref, org_ref=organization.ref))
        try:
            reg.check_may_register(event, organization, current_user)
        except reg.NotAllowed as error:
            return _not_allowed(str(error), event)
    if not form.is_submitted():
        form.attends.data = list(range(len(event.sessions)))
    valid = form.validate_on_submit()
    found = None
    if organization is None:  # staff, who pick the organization first
        found = reg.find_organizations(event, request.args.get("find", ""))
        named = (form.organization.data or "").strip()
        if named:
            form.organization.errors = [
                gettext("There is no organization “%(name)s”; find it by name.", name=named[:64])
            ]
        elif valid:
            form.organization.errors = [
                gettext("Choose the organization to register: find it by name.")
            ]
    elif valid:
        saved = _save(
            form,
            lambda: reg.register(event, organization, _registration_values(form), current_user),
            reg.RegistrationError,
            lambda _: (
                f"{organization.name} is registered for {event.name}.",
                url_for(".detail", ref=event.ref),
            ),
            forbidden=reg.NotAllowed,
            event=event,
        )
        if saved is not None:
            return saved
    return _page(
        "missions/registration_form.html",
        form,
        event=event,
        organization=organization,
        participant=None,
        found=found,
    )


def _participant_or_404(event: MissionEvent, org_ref: str) -> Participant:
    organization = find_organization(org_ref)
    participant = reg.find_participant(event, organization.id if organization else None)
    if participant is None:
        abort(404)
    return participant


def _registration_or_403(ref: str, org_ref: str) -> tuple[MissionEvent, Participant]:
    """The event and the registration of ``org_ref``, for staff or its own members."""
    event = _event_or_404(ref)
    participant = _participant_or_404(event, org_ref)
    if not (is_staff(current_user) or current_user.organization_id == participant.organization_id):
        abort(403)
    return event, participant


@bp.route("/<ref>/registrations/<org_ref>", methods=["GET", "POST"])
@login_required
def registration(ref: str, org_ref: str) -> Page:
    event, participant = _registration_or_403(ref, org_ref)
    form = registration_form(event.sessions, data=reg.registration_values(participant))
    del form.organization
    if form.validate_on_submit():
        saved = _save(
            form,
            lambda: reg.update_registration(participant, _registration_values(form), current_user),
            reg.RegistrationError,
            lambda _: (gettext("Registration saved."), url_for(".detail", ref=event.ref)),
            forbidden=reg.NotAllowed,
            event=event,
        )
        if saved is not None:
            return saved
    return _page(
        "missions/registration_form.html",
        form,
        event=event,
        organization=participant.organization,
        participant=participant,
        cancel_form=ConfirmForm(),
        open=services.registration_open(event),
    )


@bp.post("/<ref>/registrations/<org_ref>/cancel")
@login_required
def cancel_registration(ref: str, org_ref: str) -> Page:
    event, participant = _registration_or_403(ref, org_ref)
    _confirmed()
    name = participant.organization.name
    try:
        reg.cancel_registration(participant, current_user)
    except reg.NotAllowed as error:
        return _not_allowed(str(error), event)
    db.session.commit()
    flash(
        gettext("%(name)s no longer takes part in %(name2)s.", name=name, name2=event.name),
        "success",
    )
    return redirect(url_for(".detail", ref=event.ref))


# --- meeting requests -----------------------------------------------------------------


def _my_participant(event: MissionEvent) -> Participant | None:
    """The user's participant; members who did not register may not use requests."""
    participant = reg.participant_of(event, current_user)
    if participant is None and not is_staff(current_user):
        abort(403)
    return participant


def _requests_page(
    event: MissionEvent, participant: Participant | None, **forms: FlaskForm
) -> str | tuple[str, int]:
    context: dict[str, Any] = {
        "event": event,
        "participant": participant,
        "staff": is_staff(current_user),
        "request_form": forms.get("request_form") or RequestForm(),
        "propose_form": forms.get("propose_form"),
        "answer_form": AnswerForm(),
        "must_form": MustMeetForm(),
        "confirm_form": ConfirmForm(),
        "must_cap": req.MUST_MEET_CAP,
        "pending_cap": req.pending_cap(),
        "open": services.registration_open(event),
    }
    filters = req.RequestFilters.read(request.args)
    for warning in filters.warnings:
        flash(warning, "warning")
    # Each list pages on its own; its links keep the filter and the other lists' pages.
    pages = {name: int_arg(name) for name in ("received", "sent", "all")}
    context["filters"] = filters
    context["status_choices"] = req.STATUS_CHOICES
    context["page_args"] = {
        "ref": event.ref,
        **filters.query_args(),
        **{name: number for name, number in pages.items() if number and number > 1},
    }
    if participant is not None:
        context["incoming"] = _paged(req.incoming_query(participant, filters.status), "received")
        context["outgoing"] = _paged(req.outgoing_query(participant, filters.status), "sent")
        context["suggestions"], context["suggestions_unavailable"] = req.suggestions(participant)
        context["must_used"] = req.must_meets_of(participant)
        context["pending_used"] = req.pending_of(participant)
        context["others"] = [
            p
            for p in services.public_participants(event, services.ParticipantFilters())
            if p.id != participant.id
        ]
    if context["staff"]:
        context["all_requests"] = _paged(req.event_requests_query(event, filters.status), "all")
        if context["propose_form"] is None:
            context["propose_form"] = _propose_form(event)
    failed = any(form.errors or form.form_errors for form in forms.values() if form is not None)
    page = render_template("missions/requests.html", **context)
    return (page, 400) if failed else page


def _propose_form(event: MissionEvent) -> ProposeForm:
    form = ProposeForm()
    choices = [SelectChoice(str(p.id), p.organization.name) for p in event.participants]
    form.first.choices = choices
    form.second.choices = choices
    return form


@bp.get("/<ref>/requests")
@login_required
def my_requests(ref: str) -> Page:
    event = _event_or_404(ref)
    return _requests_page(event, _my_participant(event))


def _target(event: MissionEvent, value: str | None) -> Participant | None:
    """The event's participant a form names by id; None for anything else (an id past
    what the column holds would be a database error on PostgreSQL, not a 404)."""
    try:
        participant_id = int(value or "")
    except ValueError:
        return None
    if not 0 < participant_id < 2**31:
        return None
    target = db.session.get(Participant, participant_id)
    return target if target is not None and target.event_id == event.id else None


@bp.post("/<ref>/requests")
@login_required
def send_request(ref: str) -> Page:
    event = _event_or_404(ref)
    participant = reg.participant_of(event, current_user)
    if participant is None:
        abort(403)
    form = RequestForm()
    if form.validate_on_submit():
        target = _target(event, form.to.data)

        def step() -> Participant:
            if target is None:
                raise req.RequestError(gettext("Choose a participant of this event."), "to")
            req.send_request(
                participant, target, form.message.data or "", bool(form.must_meet.data)
            )
            return target

        saved = _save(
            form,
            step,
            req.RequestError,
            lambda to: (
                gettext("Request sent to %(name)s.", name=to.organization.name),
                url_for(".my_requests", ref=event.ref),
            ),
            forbidden=req.NotAllowed,
            event=event,
        )
        if saved is not None:
            return saved
    return _requests_page(event, participant, request_form=form)


def _request_or_404(event: MissionEvent, request_id: int) -> MeetingRequest:
    found = req.find_request(event, request_id)
    if found is None:
        abort(404)
    return found


def _request_step(ref: str, request_id: int, side: str, form: FlaskForm, step: Any) -> Page:
    """Run one step on a request (answer, withdraw, must-meet) and go back to the list;
    a refused step is flashed, a forbidden one is 403 (before the form is read)."""
    event = _event_or_404(ref)
    meeting_request = _request_or_404(event, request_id)
    participant = reg.participant_of(event, current_user)
    try:
        req.check_side(meeting_request, participant, current_user, side)
    except req.NotAllowed as error:
        return _not_allowed(str(error), event)
    if not form.validate_on_submit():
        flash(_form_errors(form) or gettext("Please try again."), "error")
        return redirect(url_for(".my_requests", ref=event.ref), 303)
    try:
        message = step(meeting_request, participant)
    except req.NotAllowed as error:
        return _not_allowed(str(error), event)
    except req.RequestError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for(".my_requests", ref=event.ref), 303)


@bp.post("/<ref>/requests/<int:request_id>/answer")
@login_required
def answer_request(ref: str, request_id: int) -> Page:
    form = AnswerForm()

    def step(meeting_request: MeetingRequest, participant: Participant | None) -> str:
        accept = form.answer.data == "accept"
        req.answer_request(meeting_request, accept, participant, current_user, form.reason.data)
        return gettext("Request accepted.") if accept else gettext("Request declined.")

    return _request_step(ref, request_id, "to", form, step)


@bp.post("/<ref>/requests/<int:request_id>/withdraw")
@login_required
def withdraw_request(ref: str, request_id: int) -> Page:
    def step(meeting_request: MeetingRequest, participant: Participant | None) -> str:
        req.withdraw_request(meeting_request, participant, current_user)
        return gettext("Request withdrawn.")

    return _request_step(ref, request_id, "from", ConfirmForm(), step)


@bp.post("/<ref>/requests/<int:request_id>/must-meet")
@login_required
def must_meet(ref: str, request_id: int) -> Page:
    form = MustMeetForm()

    def step(meeting_request: MeetingRequest, participant: Participant | None) -> str:
        req.set_must_meet(meeting_request, bool(form.must_meet.data), participant, current_user)
        return (
            gettext("Marked must-meet.")
            if form.must_meet.data
            else gettext("No longer a must-meet.")
        )

    return _request_step(ref, request_id, "from", form, step)


@bp.post("/<ref>/requests/propose")
@staff_required
def propose(ref: str) -> Page:
    event = _event_or_404(ref)
    form = _propose_form(event)
    if form.validate_on_submit():
        first = _target(event, form.first.data)
        second = _target(event, form.second.data)

        def step() -> Participant:
            if first is None or second is None:
                raise req.RequestError(gettext("Choose two participants of this event."), "second")
            req.propose_meeting(first, second, form.message.data or "", bool(form.must_meet.data))
            return second

        saved = _save(
            form,
            step,
            req.RequestError,
            lambda to: (
                gettext("Meeting proposed to %(name)s.", name=to.organization.name),
                url_for(".my_requests", ref=event.ref),
            ),
        )
        if saved is not None:
            return saved
    return _requests_page(event, reg.participant_of(event, current_user), propose_form=form)


# --- scheduling and the grid (staff) --------------------------------------------------


@bp.route("/<ref>/schedule", methods=["GET", "POST"])
@staff_required
def schedule(ref: str) -> Page:
    """Run the scheduler; the page shows what was placed and why the rest was not."""
    event = _event_or_404(ref)
    form = ScheduleForm()
    result = None
    if form.validate_on_submit():
        result = services.schedule_event(event, replan=bool(form.replan.data))
        db.session.commit()
        flash(
            gettext(
                "%(count_placements)s meetings placed.",
                count_placements=len(result.schedule.placements),
            ),
            "success",
        )
    summary = next(s for s in services.summaries() if s.event.id == event.id)
    return render_template(
        "missions/schedule.html",
        event=event,
        form=form,
        publish_form=ConfirmForm(),
        result=result,
        summary=summary,
        names=services.organization_names(event),
        unplaced_reason=services.unplaced_reason,
    )


@bp.post("/<ref>/publish")
@staff_required
def publish(ref: str) -> Page:
    event = _event_or_404(ref)
    _confirmed()
    count = services.publish(event, actor=current_user)
    db.session.commit()
    flash(gettext("Published %(count_value)s meeting(s).", count_value=count), "success")
    return redirect(url_for(".schedule", ref=event.ref), 303)


def _grid_page(
    event: MissionEvent, move_form: MoveForm | None = None, failed: bool = False
) -> Page:
    page = render_template(
        "missions/grid.html",
        event=event,
        grid=grid_services.event_grid(event),
        move_form=move_form or MoveForm(),
        confirm_form=ConfirmForm(),
        names=services.organization_names(event),
        violation_text=services.violation_text,
    )
    return (page, 400) if failed else page


@bp.get("/<ref>/grid")
@staff_required
def grid(ref: str) -> Page:
    return _grid_page(_event_or_404(ref))


def _meeting_or_404(ref: str, meeting_id: int) -> tuple[MissionEvent, Meeting]:
    event = _event_or_404(ref)
    meeting = grid_services.find_meeting(event, meeting_id)
    if meeting is None:
        abort(404)
    return event, meeting


@bp.post("/<ref>/meetings/<int:meeting_id>/move")
@staff_required
def move_meeting(ref: str, meeting_id: int) -> Page:
    event, meeting = _meeting_or_404(ref, meeting_id)
    form = MoveForm()
    if form.validate_on_submit():
        place = (form.place.data or "").strip().lower()
        try:
            table = None if place == "online" else int(place)
        except ValueError:
            form.place.errors = [gettext("Give a table number or “online”.")]
        else:
            try:
                grid_services.move_meeting(
                    event, meeting, form.slot.data or 0, table, actor=current_user
                )
            except grid_services.MoveError as error:
                db.session.rollback()
                flash(str(error), "error")
                return _grid_page(event, form, failed=True)
            db.session.commit()
            flash(
                gettext("Meeting moved; both sides are mailed their changed agendas.")
                if meeting.published
                else gettext("Meeting moved."),
                "success",
            )
            return redirect(url_for(".grid", ref=event.ref), 303)
    flash(_form_errors(form), "error")
    return _grid_page(event, form, failed=True)


@bp.post("/<ref>/meetings/<int:meeting_id>/cancel")
@staff_required
def cancel_meeting(ref: str, meeting_id: int) -> Page:
    event, meeting = _meeting_or_404(ref, meeting_id)
    _confirmed()
    published = meeting.published
    grid_services.cancel_meeting(event, meeting, actor=current_user)
    db.session.commit()
    flash(
        gettext(
            "Meeting cancelled; its request stays accepted. "
            "Both sides are mailed their changed agendas."
        )
        if published
        else gettext("Meeting cancelled; its request stays accepted."),
        "success",
    )
    return redirect(url_for(".grid", ref=event.ref), 303)


# --- analytics (staff) ------------------------------------------------------------------


@bp.get("/<ref>/analytics")
@staff_required
def analytics_page(ref: str) -> str:
    """Registrations, requests, meetings, ratings and introductions of one event, each as
    a server-drawn chart beside its table."""
    event = _event_or_404(ref)
    return render_template(
        "missions/analytics.html",
        event=event,
        figures=analytics.event_analytics(event),
        chart=bar_chart,
    )


@bp.get("/<ref>/analytics.csv")
@staff_required
def analytics_csv(ref: str) -> Response:
    """The analytics page's figures, one a line, safe to open in a spreadsheet."""
    event = _event_or_404(ref)
    out = io.StringIO()
    analytics.write_csv(out, analytics.event_analytics(event))
    name = re.sub(r"[^A-Za-z0-9._-]", "_", event.ref)  # an imported ref may hold anything
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-analytics.csv"'},
    )
