"""Organizations: the public vendor and buyer directory, and members managing their own.

Management routes are keyed by the organization's ref so that staff use the same pages
and services as members; ``/organization`` and ``/organization/edit`` take a member to
their own.
"""

from __future__ import annotations

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

from portal.extensions import db
from portal.matching.panels import vendor_leads_for_staff
from portal.needs.services import all_needs_of, budget_label, open_needs_of
from portal.organizations import services
from portal.organizations.forms import (
    CapabilityForm,
    ConfirmForm,
    ContactForm,
    profile_form_for,
    read_directory_filters,
)
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import OrganizationError
from portal.versioning import EditConflict, conflict_for, submitted_version

bp = Blueprint("organizations", __name__)

DETAIL_ENDPOINT = {
    OrganizationKind.VENDOR: "organizations.vendor_detail",
    OrganizationKind.BUYER: "organizations.buyer_detail",
}


def profile_url(organization: Organization) -> str:
    return url_for(DETAIL_ENDPOINT[OrganizationKind(organization.kind)], ref=organization.ref)


# --- the public directory ------------------------------------------------------------


def _directory(kind: OrganizationKind, endpoint: str) -> str:
    country_param = "market" if kind == OrganizationKind.VENDOR else "country"
    filters = read_directory_filters(request.args, country_param)
    for warning in filters.warnings:
        flash(warning, "warning")
    query = services.public_organizations_query(
        kind,
        sector=filters.sector,
        country=filters.country if kind == OrganizationKind.BUYER else None,
        market=filters.country if kind == OrganizationKind.VENDOR else None,
        name_contains=filters.q,
    )
    page = db.paginate(
        query,
        page=filters.page,
        per_page=current_app.config["PORTAL_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "organizations/directory.html",
        kind=kind,
        page=page,
        filters=filters,
        country_param=country_param,
        endpoint=endpoint,
        detail_endpoint=DETAIL_ENDPOINT[kind],
    )


@bp.get("/vendors")
def vendors() -> str:
    """Verified U.S. vendors, by name; filter by sector, ASEAN market served and name."""
    return _directory(OrganizationKind.VENDOR, "organizations.vendors")


@bp.get("/buyers")
def buyers() -> str:
    """Verified ASEAN buyers, by name; filter by sector, country and name."""
    return _directory(OrganizationKind.BUYER, "organizations.buyers")


def _profile(kind: OrganizationKind, ref: str) -> str:
    organization = services.find_organization(ref, kind)
    if organization is None or not services.can_see_profile(organization, current_user):
        abort(404)  # an unverified profile does not exist for the public
    return _render_profile(organization, "organizations/detail.html")


def _render_profile(organization: Organization, template: str) -> str:
    private = services.can_see_private(organization, current_user)
    needs = []
    if organization.is_buyer:
        needs = all_needs_of(organization) if private else open_needs_of(organization)
    return render_template(
        template,
        organization=organization,
        contacts=services.visible_contacts(organization, current_user),
        private=private,
        can_manage=services.can_manage(organization, current_user),
        is_staff=services.is_staff(current_user),
        needs=needs,
        need_leads=vendor_leads_for_staff(organization, current_user),
        budget_label=budget_label,
        confirm_form=ConfirmForm(),
    )


@bp.get("/vendors/<ref>")
def vendor_detail(ref: str) -> str:
    return _profile(OrganizationKind.VENDOR, ref)


@bp.get("/buyers/<ref>")
def buyer_detail(ref: str) -> str:
    return _profile(OrganizationKind.BUYER, ref)


# --- a member's own organization ------------------------------------------------------


def _own_organization() -> Organization:
    organization = current_user.organization
    if organization is None:
        abort(404)
    return organization


@bp.get("/organization")
@login_required
def my_organization() -> str:
    """The member's organization in full: status, private contacts, every need."""
    return _render_profile(_own_organization(), "organizations/mine.html")


@bp.get("/organization/edit")
@login_required
def edit_own_profile() -> Response:
    return redirect(url_for(".edit_profile", ref=_own_organization().ref))


def _managed(ref: str) -> Organization:
    """The organization at ``ref`` if the user may change it: else 404 or 403."""
    organization = services.find_organization(ref)
    if organization is None:
        abort(404)
    if not services.can_manage(organization, current_user):
        abort(403)
    return organization


def _after_change(organization: Organization) -> Response:
    if current_user.organization_id == organization.id:
        return redirect(url_for(".my_organization"))
    return redirect(profile_url(organization))


def _show_error(form: FlaskForm, error: OrganizationError) -> None:
    """Put a service's error beside its field, or above the form if it names none."""
    field = form._fields.get(error.field or "")
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


@bp.route("/organizations/<ref>/edit", methods=["GET", "POST"])
@login_required
def edit_profile(ref: str) -> str | Response | tuple[str, int]:
    organization = _managed(ref)
    form = profile_form_for(organization)
    if form.validate_on_submit():
        try:
            services.update_profile(
                organization,
                name=form.name.data or "",
                city=form.city.data or "",
                website=form.website.data or "",
                summary=form.summary.data or "",
                sectors=form.sectors.data,
                markets=form.markets.data if "markets" in form else None,
                country=form.country.data if "country" in form else None,
                expected_version=submitted_version(form.version),
                editor=current_user,
            )
        except EditConflict as conflict:
            db.session.rollback()
            return _conflict_page("organizations/edit.html", form, organization, conflict)
        except OrganizationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Profile saved."), "success")
            return _after_change(organization)
    return _form_page("organizations/edit.html", form, organization)


def _form_page(
    template: str, form: FlaskForm, organization: Organization, **context: object
) -> str | tuple[str, int]:
    page = render_template(template, form=form, organization=organization, **context)
    return (page, 400) if form.errors else page


def _conflict_page(
    template: str,
    form: FlaskForm,
    organization: Organization,
    error: EditConflict,
    **context: object,
) -> tuple[str, int]:
    """The form again after a refused stale save (rolled back already): the reader's own
    values in the fields, the saved ones above, and the current version to save over."""
    conflict = conflict_for(error, form, submitted=submitted_version(form.version))  # type: ignore[attr-defined]
    page = render_template(
        template, form=form, organization=organization, conflict=conflict, **context
    )
    return page, 409


# --- capabilities ----------------------------------------------------------------------


def _capability_values(form: CapabilityForm) -> dict[str, object]:
    return {
        "title": form.title.data or "",
        "description": form.description.data or "",
        "sectors": form.sectors.data,
    }


@bp.route("/organizations/<ref>/capabilities/new", methods=["GET", "POST"])
@login_required
def new_capability(ref: str) -> str | Response | tuple[str, int]:
    organization = _managed(ref)
    if not organization.is_vendor:
        abort(404)
    form = CapabilityForm()
    if form.validate_on_submit():
        try:
            services.add_capability(organization, **_capability_values(form))  # type: ignore[arg-type]
        except OrganizationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Capability added."), "success")
            return _after_change(organization)
    return _form_page("organizations/capability_form.html", form, organization, capability=None)


@bp.route("/organizations/<ref>/capabilities/<int:capability_id>/edit", methods=["GET", "POST"])
@login_required
def edit_capability(ref: str, capability_id: int) -> str | Response | tuple[str, int]:
    organization = _managed(ref)
    capability = services.find_capability(organization, capability_id) or abort(404)
    form = CapabilityForm(obj=capability)
    if form.validate_on_submit():
        try:
            services.update_capability(
                capability,
                **_capability_values(form),  # type: ignore[arg-type]
                expected_version=submitted_version(form.version),
                editor=current_user,
            )
        except EditConflict as conflict:
            db.session.rollback()
            return _conflict_page(
                "organizations/capability_form.html",
                form,
                organization,
                conflict,
                capability=capability,
            )
        except OrganizationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Capability saved."), "success")
            return _after_change(organization)
    return _form_page(
        "organizations/capability_form.html", form, organization, capability=capability
    )


@bp.post("/organizations/<ref>/capabilities/<int:capability_id>/delete")
@login_required
def delete_capability(ref: str, capability_id: int) -> Response:
    organization = _managed(ref)
    capability = services.find_capability(organization, capability_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_capability(capability)
    db.session.commit()
    flash(gettext("Capability deleted."), "success")
    return _after_change(organization)


# --- contacts ----------------------------------------------------------------------------


def _contact_values(form: ContactForm) -> dict[str, str]:
    return {
        "name": form.name.data or "",
        "email": form.email.data or "",
        "phone": form.phone.data or "",
        "title": form.title.data or "",
    }


@bp.route("/organizations/<ref>/contacts/new", methods=["GET", "POST"])
@login_required
def new_contact(ref: str) -> str | Response | tuple[str, int]:
    organization = _managed(ref)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            services.add_contact(organization, **_contact_values(form))
        except OrganizationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Contact added."), "success")
            return _after_change(organization)
    return _form_page("organizations/contact_form.html", form, organization, contact=None)


@bp.route("/organizations/<ref>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit_contact(ref: str, contact_id: int) -> str | Response | tuple[str, int]:
    organization = _managed(ref)
    contact = services.find_contact(organization, contact_id) or abort(404)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        try:
            services.update_contact(
                contact,
                **_contact_values(form),
                expected_version=submitted_version(form.version),
                editor=current_user,
            )
        except EditConflict as conflict:
            db.session.rollback()
            return _conflict_page(
                "organizations/contact_form.html", form, organization, conflict, contact=contact
            )
        except OrganizationError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Contact saved."), "success")
            return _after_change(organization)
    return _form_page("organizations/contact_form.html", form, organization, contact=contact)


@bp.post("/organizations/<ref>/contacts/<int:contact_id>/delete")
@login_required
def delete_contact(ref: str, contact_id: int) -> Response:
    organization = _managed(ref)
    contact = services.find_contact(organization, contact_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_contact(contact)
    db.session.commit()
    flash(gettext("Contact deleted."), "success")
    return _after_change(organization)
