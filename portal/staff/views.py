"""Trade staff pages: the queue of organizations waiting for verification."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.access import staff_required
from portal.accounts.models import User
from portal.extensions import db
from portal.organizations.forms import ConfirmForm, RejectForm, reject_form_for
from portal.organizations.models import Organization, VerificationStatus
from portal.organizations.services import find_organization
from portal.staff import services
from portal.staff.services import OrganizationError

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _queue_page(failed: Organization | None = None, failed_form: RejectForm | None = None) -> str:
    """The queue; a reject form that failed keeps its text and error beside its field."""
    pending = services.pending_organizations()
    reject_forms = {
        organization.id: (
            failed_form
            if failed is not None and organization.id == failed.id and failed_form is not None
            else reject_form_for(organization, formdata=None)
        )
        for organization in pending
    }
    return render_template(
        "staff/verification_queue.html",
        pending=pending,
        reject_forms=reject_forms,
        approve_form=ConfirmForm(formdata=None),
    )


@bp.get("/verification")
@staff_required
def verification_queue() -> str:
    """Organizations waiting for a decision, oldest first, with their members."""
    return _queue_page()


def _organization(ref: str) -> Organization:
    organization = find_organization(ref)
    if organization is None:
        abort(404)
    return organization


@bp.post("/verification/<ref>/approve")
@staff_required
def approve(ref: str) -> Response:
    organization = _organization(ref)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.verify_organization(organization, _reviewer())
    except OrganizationError as error:
        db.session.rollback()
        flash(f"Nothing changed: {error}.", "warning")
    else:
        db.session.commit()
        flash(f"{organization.name} is verified and now public; its members were told.", "success")
    return redirect(url_for(".verification_queue"))


@bp.post("/verification/<ref>/reject")
@staff_required
def reject(ref: str) -> Response | tuple[str, int]:
    organization = _organization(ref)
    form = reject_form_for(organization)
    if not form.validate_on_submit():
        if organization.status != VerificationStatus.PENDING:
            flash(f"Nothing changed: {organization.name} is no longer pending.", "warning")
            return redirect(url_for(".verification_queue"))
        return _queue_page(organization, form), 400
    try:
        services.reject_organization(organization, _reviewer(), form.reason.data or "")
    except OrganizationError as error:
        db.session.rollback()
        flash(f"Nothing changed: {error}.", "warning")
    else:
        db.session.commit()
        flash(f"{organization.name} was rejected; its members were told why.", "success")
    return redirect(url_for(".verification_queue"))


def _reviewer() -> User:
    """The logged-in staff user itself, not the proxy, so it can be stored on the review."""
    return current_user._get_current_object()  # type: ignore[no-any-return]
