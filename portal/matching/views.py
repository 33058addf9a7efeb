"""Leads on the portal's pages: a vendor's "needs for you", and dismissing or restoring a
lead (the buyer's panel on a need's page and staff panels are rendered by those pages)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.matching import feedback, panels
from portal.matching.feedback import FeedbackError, NotAllowed
from portal.matching.forms import DismissLeadForm
from portal.needs.models import Need
from portal.needs.services import budget_label, can_see_need, find_need
from portal.organizations.forms import ConfirmForm
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import find_organization

bp = Blueprint("matching", __name__)


@bp.get("/leads")
@login_required
def vendor_leads() -> str:
    """The open needs the member's vendor could win, best first."""
    vendor = current_user.organization
    if vendor is None or not vendor.is_vendor:
        abort(403)
    return render_template(
        "matching/vendor_leads.html",
        vendor=vendor,
        panel=panels.needs_for_vendor(vendor),
        dismiss_form=DismissLeadForm(),
        confirm_form=ConfirmForm(),
        budget_label=budget_label,
    )


def _lead_or_404(need_ref: str, vendor_ref: str) -> tuple[Need, Organization]:
    need = find_need(need_ref)
    vendor = find_organization(vendor_ref, OrganizationKind.VENDOR)
    if need is None or vendor is None or not can_see_need(need, current_user):
        abort(404)
    if not feedback.can_dismiss(current_user, need, vendor):
        abort(403)
    return need, vendor


def _back_to_leads(need: Need) -> str:
    """Where the lead was listed: the buyer's need page, or the vendor's own list."""
    if current_user.organization_id == need.buyer_id:
        return url_for("needs.detail", ref=need.ref, _anchor="leads")
    return url_for(".vendor_leads")


def _form_page(form: DismissLeadForm, need: Need, vendor: Organization) -> tuple[str, int]:
    page = render_template(
        "matching/dismiss.html", form=form, need=need, vendor=vendor, back=_back_to_leads(need)
    )
    return page, 400


@bp.post("/needs/<need_ref>/leads/<vendor_ref>/dismiss")
@login_required
def dismiss(need_ref: str, vendor_ref: str) -> Response | tuple[str, int]:
    need, vendor = _lead_or_404(need_ref, vendor_ref)
    form = DismissLeadForm()
    if not form.validate_on_submit():
        return _form_page(form, need, vendor)
    try:
        dismissal = feedback.dismiss_lead(
            current_user, need, vendor, form.reason.data or "", form.note.data
        )
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except FeedbackError as error:
        db.session.rollback()
        field = form._fields.get(error.field or "")
        if field is None:
            flash(gettext("Nothing changed: %(error)s", error=str(error)), "error")
            return redirect(_back_to_leads(need))
        field.errors = [*field.errors, str(error)]
        return _form_page(form, need, vendor)
    db.session.commit()
    other = vendor.name if dismissal.organization_id == need.buyer_id else need.title
    flash(
        gettext(
            "Dismissed “%(name)s” (%(reason)s).", name=other, reason=dismissal.reason_label.lower()
        ),
        "success",
    )
    return redirect(_back_to_leads(need))


@bp.post("/needs/<need_ref>/leads/<vendor_ref>/undo")
@login_required
def undo(need_ref: str, vendor_ref: str) -> Response:
    need, vendor = _lead_or_404(need_ref, vendor_ref)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        restored = feedback.undo_dismissal(current_user, need, vendor)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    if restored:
        flash(gettext("The lead is back in your list."), "success")
    else:
        flash(gettext("That lead was not dismissed."), "info")
    return redirect(_back_to_leads(need))
