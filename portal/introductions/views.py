"""Introductions: members' "my introductions", the introduction page, staff review.

Every step is a POST form with CSRF and the state the person saw. A step the person may
not take is 403; an introduction they may not see is 404; a step that is not possible
from the current state (or was overtaken by someone else) is a message and no change.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
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

from portal.accounts.access import staff_required
from portal.accounts.models import User
from portal.extensions import db
from portal.introductions import audit, services
from portal.introductions.forms import (
    ApproveForm,
    NoteForm,
    OutcomeForm,
    PrivateReasonForm,
    ProposeForm,
    RequestForm,
    StaffDeclineForm,
    StepForm,
)
from portal.introductions.models import Introduction, IntroState, Side
from portal.introductions.services import (
    ChangedByOthers,
    IntroductionError,
    NotAllowed,
)
from portal.needs.models import Need
from portal.needs.services import find_need, open_needs_of
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import find_organization, is_staff, visible_contacts
from portal.request_input import MAX_ID, int_arg

bp = Blueprint("introductions", __name__)


def _user() -> User:
    """The logged-in user itself, not the proxy, so it can be stored on audit rows."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _introduction_or_404(introduction_id: int) -> Introduction:
    introduction = services.find_introduction(introduction_id)
    if introduction is None or not services.can_view(introduction, current_user):
        abort(404)
    return introduction


# --- members' list and the introduction page ---------------------------------------------


@bp.get("/introductions")
@login_required
def mine() -> str | Response:
    """The member's organization's introductions, with state, next step and history."""
    if is_staff(current_user):
        return redirect(url_for(".staff_list"))
    organization = current_user.organization
    if organization is None:
        abort(404)
    introductions = services.introductions_of(organization)
    return render_template(
        "introductions/mine.html",
        organization=organization,
        introductions=introductions,
        next_step=services.next_step,
        actor_shown=services.actor_shown,
        other_of=lambda intro: intro.buyer if intro.vendor_id == organization.id else intro.vendor,
    )


def _page(introduction: Introduction, **forms: Any) -> str:
    """The introduction's page with the forms for the steps the viewer may take."""
    state = introduction.state
    targets = services.allowed_targets(introduction, current_user)
    side = services.side_of(introduction, current_user)
    staff = is_staff(current_user)
    can_accept = side is not None and side in services.awaited_sides(introduction)
    outcome_form = forms.get("outcome_form") or OutcomeForm(
        formdata=None, state=state, prefix="outcome"
    )
    outcome_form.outcome.choices = [
        choice for choice in outcome_form.outcome.choices if choice.value in targets
    ]
    return render_template(
        "introductions/detail.html",
        introduction=introduction,
        events=services.visible_events(introduction, current_user),
        actor_shown=services.actor_shown,
        next_step=services.next_step(introduction, current_user),
        is_staff=staff,
        side=side,
        # The one rule decides: staff see both, members the other side once introduced.
        contacts={s: visible_contacts(introduction.organization(s), current_user) for s in Side},
        can_review=IntroState.UNDER_REVIEW in targets,
        can_decide=staff and IntroState.APPROVED in targets,
        can_accept=can_accept,
        can_withdraw=IntroState.WITHDRAWN in targets,
        can_log_outcome=bool(outcome_form.outcome.choices),
        step_form=StepForm(formdata=None, state=state),
        approve_form=forms.get("approve_form")
        or ApproveForm(formdata=None, state=state, prefix="approve"),
        decline_form=forms.get("decline_form")
        or StaffDeclineForm(formdata=None, state=state, prefix="staff-decline"),
        member_decline_form=PrivateReasonForm(formdata=None, state=state, prefix="decline"),
        withdraw_form=PrivateReasonForm(formdata=None, state=state, prefix="withdraw"),
        outcome_form=outcome_form,
        note_form=forms.get("note_form") or NoteForm(formdata=None, prefix="note"),
    )


@bp.get("/introductions/<int:introduction_id>")
@login_required
def detail(introduction_id: int) -> str:
    return _page(_introduction_or_404(introduction_id))


def _take_step(
    introduction_id: int,
    form: StepForm,
    step: Callable[[Introduction, str], object],
    done: str,
    form_name: str | None = None,
) -> Response | tuple[str, int]:
    """Validate ``form``, run ``step``, commit; or say why nothing changed."""
    introduction = _introduction_or_404(introduction_id)
    if not form.validate_on_submit():
        if form.state.errors or form_name is None:
            abort(400)
        return _page(introduction, **{form_name: form}), 400
    try:
        step(introduction, form.state.data or "")
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except ChangedByOthers as error:
        db.session.rollback()
        flash(str(error), "warning")
    except IntroductionError as error:
        db.session.rollback()
        if form_name is not None and error.field in form._fields:
            form._fields[error.field].errors = [str(error)]  # type: ignore[index]
            return _page(_introduction_or_404(introduction_id), **{form_name: form}), 400
        flash(gettext("Nothing changed: %(error)s", error=error), "warning")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for(".detail", introduction_id=introduction_id))


@bp.post("/introductions/<int:introduction_id>/accept")
@login_required
def accept(introduction_id: int) -> Response | tuple[str, int]:
    return _take_step(
        introduction_id,
        StepForm(),
        lambda intro, seen: services.accept(intro, _user(), expected_state=seen),
        gettext("You accepted the introduction."),
    )


@bp.post("/introductions/<int:introduction_id>/decline")
@login_required
def decline(introduction_id: int) -> Response | tuple[str, int]:
    form = PrivateReasonForm(prefix="decline")
    return _take_step(
        introduction_id,
        form,
        lambda intro, seen: services.decline(
            intro, _user(), private_reason=form.private_reason.data or "", expected_state=seen
        ),
        gettext("You declined the introduction."),
    )


@bp.post("/introductions/<int:introduction_id>/withdraw")
@login_required
def withdraw(introduction_id: int) -> Response | tuple[str, int]:
    form = PrivateReasonForm(prefix="withdraw")
    return _take_step(
        introduction_id,
        form,
        lambda intro, seen: services.withdraw(
            intro, _user(), private_reason=form.private_reason.data or "", expected_state=seen
        ),
        gettext("You withdrew the introduction."),
    )


@bp.post("/introductions/<int:introduction_id>/outcome")
@login_required
def log_outcome(introduction_id: int) -> Response | tuple[str, int]:
    form = OutcomeForm(prefix="outcome")
    return _take_step(
        introduction_id,
        form,
        lambda intro, seen: services.log_outcome(
            intro,
            _user(),
            form.outcome.data or "",
            note=form.note.data or "",
            expected_state=seen,
        ),
        gettext("Thank you: the outcome is recorded."),
        "outcome_form",
    )


# --- staff review --------------------------------------------------------------------------


@bp.post("/introductions/<int:introduction_id>/review")
@staff_required
def take_for_review(introduction_id: int) -> Response | tuple[str, int]:
    return _take_step(
        introduction_id,
        StepForm(),
        lambda intro, seen: services.take_for_review(intro, _user(), expected_state=seen),
        gettext("You took the request for review."),
    )


@bp.post("/introductions/<int:introduction_id>/approve")
@staff_required
def approve(introduction_id: int) -> Response | tuple[str, int]:
    form = ApproveForm(prefix="approve")
    return _take_step(
        introduction_id,
        form,
        lambda intro, seen: services.approve(
            intro, _user(), note=form.note.data or "", expected_state=seen
        ),
        gettext("Approved: the organizations are asked to accept."),
        "approve_form",
    )


@bp.post("/introductions/<int:introduction_id>/staff-decline")
@staff_required
def staff_decline(introduction_id: int) -> Response | tuple[str, int]:
    form = StaffDeclineForm(prefix="staff-decline")
    return _take_step(
        introduction_id,
        form,
        lambda intro, seen: services.decline(
            intro,
            _user(),
            reason=form.reason.data or "",
            private_reason=form.private_reason.data or "",
            expected_state=seen,
        ),
        gettext("Declined: the requester was told why."),
        "decline_form",
    )


@bp.post("/introductions/<int:introduction_id>/note")
@staff_required
def add_note(introduction_id: int) -> Response | tuple[str, int]:
    introduction = _introduction_or_404(introduction_id)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _page(introduction, note_form=form), 400
    services.add_note(introduction, _user(), form.note.data or "", private=not form.shared.data)
    db.session.commit()
    flash(gettext("Note added."), "success")
    return redirect(url_for(".detail", introduction_id=introduction_id))


@bp.get("/staff/introductions")
@staff_required
def staff_list() -> str:
    """Every introduction, narrowed to one state, the most recently changed first."""
    state = request.args.get("state", "")
    if state and state not in IntroState.__members__.values():
        flash(
            gettext("Unknown state “%(state)s”: showing every introduction.", state=state),
            "warning",
        )
        state = ""
    page = db.paginate(
        services.staff_introductions_query(state or None),
        page=int_arg("page", 1),
        per_page=current_app.config["PORTAL_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "introductions/staff_list.html",
        page=page,
        state=state,
        states=list(IntroState),
        next_step=services.next_step,
    )


@bp.get("/staff/introductions/audit.csv")
@staff_required
def audit_export() -> Response:
    """The audit trail as CSV: every introduction, or one with ``?introduction=ID``."""
    introduction = None
    if "introduction" in request.args:
        introduction_id = int_arg("introduction", maximum=MAX_ID)
        introduction = services.find_introduction(introduction_id) if introduction_id else None
        if introduction is None:
            abort(404)
    out = io.StringIO()
    audit.write_audit_csv(out, audit.audit_rows(introduction))
    name = f"introduction-{introduction.id}" if introduction else "introductions"
    name += "-audit.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- asking for one ----------------------------------------------------------------------


def _need_from_args(buyer: Organization) -> Need | None:
    ref = request.args.get("need")
    if not ref:
        return None
    need = find_need(ref)
    if need is None or need.buyer_id != buyer.id or not need.is_public:
        abort(404)
    return need


def _other_from_args() -> Organization | None:
    """The organization named by ``?with=REF``, or else the buyer of ``?need=REF``."""
    if request.args.get("with"):
        return find_organization(request.args["with"])
    need = find_need(request.args.get("need", "")) if request.args.get("need") else None
    return need.buyer if need is not None else None


@bp.route("/introductions/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    """A member asks for an introduction to the organization ``?with=REF`` (of the other
    kind), or to the buyer of the need ``?need=REF``, optionally about one of its needs."""
    other = _other_from_args()
    if is_staff(current_user):  # staff propose; the other organization's kind says which
        args = {"need": request.args.get("need", "")}
        if other is not None:
            args["vendor" if other.is_vendor else "buyer"] = other.ref
        return redirect(url_for(".propose", **args))
    own = current_user.organization
    if own is None:
        abort(403)
    if other is None or not other.is_verified or other.kind == own.kind:
        abort(404)
    vendor, buyer = (own, other) if own.is_vendor else (other, own)
    if not own.is_verified:
        flash(
            (
                gettext(
                    "Your organization must be verified by trade staff before it "
                    "asks for introductions."
                )
            ),
            "warning",
        )
        return redirect(url_for("organizations.my_organization"))
    form = RequestForm()
    needs = open_needs_of(buyer)
    form.need.choices = [("", "No particular need")] + [(n.ref, n.title) for n in needs]
    if request.method == "GET":
        chosen = _need_from_args(buyer)
        form.need.data = chosen.ref if chosen else ""
    existing = services.existing_between(vendor, buyer)
    if form.validate_on_submit():
        need = find_need(form.need.data) if form.need.data else None
        try:
            introduction = services.request_introduction(
                _user(),
                vendor=vendor,
                buyer=buyer,
                need=need,
                message=form.message.data or "",
                confirm_duplicate=bool(form.confirm.data),
            )
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except IntroductionError as error:
            db.session.rollback()
            field = form._fields.get(error.field or "")
            if field is not None:
                field.errors = [*field.errors, str(error)]
            else:
                flash(gettext("Nothing was sent: %(error)s", error=error), "warning")
        else:
            db.session.commit()
            flash(
                (
                    gettext(
                        "Your request is sent. Trade staff review it before %(name)s is asked.",
                        name=other.name,
                    )
                ),
                "success",
            )
            return redirect(url_for(".detail", introduction_id=introduction.id))
    page = render_template(
        "introductions/request.html", form=form, own=own, other=other, existing=existing
    )
    return (page, 400) if form.errors else page


@bp.route("/staff/introductions/propose", methods=["GET", "POST"])
@staff_required
def propose() -> str | Response | tuple[str, int]:
    """Staff propose a pair; the vendor, buyer and need come prefilled from the page where
    the button was (``?vendor=REF&buyer=REF&need=REF``)."""
    prefill = {key: request.args.get(key, "") for key in ("vendor", "buyer", "need")}
    if prefill["need"] and not prefill["buyer"]:  # from a lead: the need names its buyer
        need = find_need(prefill["need"])
        prefill["buyer"] = need.buyer.ref if need is not None else ""
    form = ProposeForm(formdata=request.form if request.method == "POST" else None, data=prefill)
    vendor = find_organization((form.vendor.data or "").strip(), OrganizationKind.VENDOR)
    buyer = find_organization((form.buyer.data or "").strip(), OrganizationKind.BUYER)
    existing = services.existing_between(vendor, buyer) if vendor and buyer else []
    if request.method == "POST" and form.validate_on_submit():
        need = None
        if form.vendor.data and vendor is None:
            form.vendor.errors = [gettext("No vendor has this reference.")]
        if form.buyer.data and buyer is None:
            form.buyer.errors = [gettext("No buyer has this reference.")]
        if form.need.data:
            need = find_need(form.need.data.strip())
            if need is None:
                form.need.errors = [gettext("No need has this reference.")]
        if vendor is not None and buyer is not None and not form.errors:
            try:
                introduction = services.propose_introduction(
                    _user(),
                    vendor=vendor,
                    buyer=buyer,
                    need=need,
                    note=form.note.data or "",
                    confirm_duplicate=bool(form.confirm.data),
                )
            except IntroductionError as error:
                db.session.rollback()
                field = form._fields.get(error.field or "")
                if field is not None:
                    field.errors = [*field.errors, str(error)]
                else:
                    flash(gettext("Nothing was proposed: %(error)s", error=error), "warning")
            else:
                db.session.commit()
                flash(gettext("Proposed: both organizations are asked to accept."), "success")
                return redirect(url_for(".detail", introduction_id=introduction.id))
    page = render_template(
        "introductions/propose.html", form=form, vendor=vendor, buyer=buyer, existing=existing
    )
    return (page, 400) if form.errors else page
