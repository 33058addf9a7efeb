"""Trade staff pages: the queue of organizations waiting for verification, and the
pipeline dashboard of introductions."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.access import staff_required
from portal.accounts.models import User
from portal.extensions import db
from portal.missions import analytics as mission_analytics
from portal.organizations.forms import ConfirmForm, RejectForm, reject_form_for
from portal.organizations.models import Organization, VerificationStatus
from portal.organizations.services import find_organization
from portal.staff import dashboard, services
from portal.staff.forms import DashboardFilterForm
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
        flash(gettext("Nothing changed: %(error)s.", error=error), "warning")
    else:
        db.session.commit()
        flash(
            gettext(
                "%(name)s is verified and now public; its members were told.",
                name=organization.name,
            ),
            "success",
        )
    return redirect(url_for(".verification_queue"))


@bp.post("/verification/<ref>/reject")
@staff_required
def reject(ref: str) -> Response | tuple[str, int]:
    organization = _organization(ref)
    form = reject_form_for(organization)
    if not form.validate_on_submit():
        if organization.status != VerificationStatus.PENDING:
            flash(
                gettext("Nothing changed: %(name)s is no longer pending.", name=organization.name),
                "warning",
            )
            return redirect(url_for(".verification_queue"))
        return _queue_page(organization, form), 400
    try:
        services.reject_organization(organization, _reviewer(), form.reason.data or "")
    except OrganizationError as error:
        db.session.rollback()
        flash(gettext("Nothing changed: %(error)s.", error=error), "warning")
    else:
        db.session.commit()
        flash(
            gettext("%(name)s was rejected; its members were told why.", name=organization.name),
            "success",
        )
    return redirect(url_for(".verification_queue"))


def _reviewer() -> User:
    """The logged-in staff user itself, not the proxy, so it can be stored on the review."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


# --- the pipeline dashboard ------------------------------------------------------------------


def _dashboard_filters() -> tuple[DashboardFilterForm, dashboard.Filters, bool]:
    """The filters from the query string; a bad value is a form error, and is ignored."""
    form = DashboardFilterForm(request.args)
    valid = form.validate() if request.args else True
    if not valid:
        return form, dashboard.Filters(), False
    return (
        form,
        dashboard.Filters(
            date_from=form.date_from.data,
            date_to=form.date_to.data,
            sector=form.sector.data or "",
            country=form.country.data or "",
            state=form.state.data or "",
        ),
        True,
    )


@bp.get("/dashboard")
@staff_required
def dashboard_page() -> tuple[str, int]:
    """Counts, funnel, breakdowns, time in each state, the oldest waiting items."""
    form, filters, valid = _dashboard_filters()
    pipeline = dashboard.pipeline(filters)
    return render_template(
        "staff/dashboard.html",
        form=form,
        pipeline=pipeline,
        chart=dashboard.bar_chart,
        state_items=[(state.label, count) for state, count in pipeline.by_state],
        median_items=[(state.label, days) for state, days, _ in pipeline.median_days],
        export_args={k: v for k, v in request.args.items() if v} if valid else {},
        mission_headlines=mission_analytics.headlines(),
    ), (200 if valid else 400)


@bp.get("/dashboard/introductions.csv")
@staff_required
def dashboard_csv() -> Response:
    """The filtered introductions with their outcomes, safe to open in a spreadsheet."""
    _form, filters, valid = _dashboard_filters()
    if not valid:
        abort(400)
    out = io.StringIO()
    dashboard.write_csv(out, filters)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=introductions.csv"},
    )
