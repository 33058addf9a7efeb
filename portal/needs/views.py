"""Needs: the public list of open needs, and buyers posting and managing their own."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.extensions import db
from portal.languages.detect import LANGUAGE_LABELS, language_name
from portal.matching.forms import DismissLeadForm
from portal.matching.panels import need_leads
from portal.matching.reasons import concept_label
from portal.matching.understood import read_need
from portal.needs import services
from portal.needs.forms import NeedForm, NoticeFilters
from portal.needs.models import Need
from portal.needs.services import NeedError
from portal.organizations.forms import ConfirmForm, read_directory_filters
from portal.organizations.models import Organization, OrganizationKind
from portal.organizations.services import find_organization, is_staff
from portal.versioning import EditConflict, conflict_for, submitted_version

bp = Blueprint("needs", __name__)


@bp.get("/needs")
def directory() -> str:
    """Open needs of verified buyers, newest first; filter by sector, country, title,
    notice type and funding."""
    filters = read_directory_filters(request.args, "country")
    notice_filters = NoticeFilters.from_args(request.args)
    for warning in [*filters.warnings, *notice_filters.warnings]:
        flash(warning, "warning")
    query = services.public_needs_query(
        sector=filters.sector,
        country=filters.country,
        title_contains=filters.q,
        notice=notice_filters.notice,
        funding_source=notice_filters.funding_source,
        funding_stage=notice_filters.funding_stage,
        language=notice_filters.language,
    )
    page = db.paginate(
        query,
        page=filters.page,
        per_page=current_app.config["PORTAL_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "needs/directory.html",
        page=page,
        filters=filters,
        notice_filters=notice_filters,
        language_names=LANGUAGE_LABELS,
        budget_label=services.budget_label,
        funding_label=services.funding_label,
    )


def _need_or_404(ref: str) -> Need:
    need = services.find_need(ref)
    if need is None or not services.can_see_need(need, current_user):
        abort(404)  # a need that is not open does not exist for the public
    return need


@bp.get("/needs/<ref>")
def detail(ref: str) -> str:
    need = _need_or_404(ref)
    return render_template(
        "needs/detail.html",
        need=need,
        public=services.is_public(need),
        can_manage=services.can_manage_need(need, current_user),
        budget_label=services.budget_label,
        funding_label=services.funding_label,
        language_name=language_name,
        confirm_form=ConfirmForm(),
        leads=need_leads(need, current_user),
        dismiss_form=DismissLeadForm(),
        read=read_need(need),
        concept_label=concept_label,
    )


def _managed_need(ref: str) -> Need:
    need = services.find_need(ref)
    if need is None:
        abort(404)
    if not services.can_manage_need(need, current_user):
        abort(403)
    return need


def _buyer_to_post_for() -> Organization:
    """Buyer members post for their own organization; staff name the buyer (``?buyer=``)."""
    if is_staff(current_user):
        buyer = find_organization(request.args.get("buyer", ""), OrganizationKind.BUYER)
        if buyer is None:
            abort(404)
        return buyer
    organization = current_user.organization
    if organization is None or not organization.is_buyer:
        abort(403)
    return organization


def _show_error(form: NeedForm, error: NeedError) -> None:
    field = form._fields.get(error.field or "")
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


def _values(form: NeedForm) -> dict[str, object]:
    return {
        "title": form.title.data or "",
        "description": form.description.data or "",
        "sectors": form.sectors.data,
        "budget_min": form.budget_min.data,
        "budget_max": form.budget_max.data,
        "closes_on": form.closes_on.data,
        "notice": form.notice.data,
        "funding_source": form.funding_source.data or None,
        "funding_stage": form.funding_stage.data or None,
    }


def _form_page(form: NeedForm, **context: object) -> str | tuple[str, int]:
    page = render_template("needs/form.html", form=form, **context)
    return (page, 400) if form.errors else page


@bp.route("/needs/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    buyer = _buyer_to_post_for()
    form = NeedForm()
    if form.validate_on_submit():
        try:
            need = services.create_need(
                buyer,
                **_values(form),  # type: ignore[arg-type]
                actor=current_user,
            )
        except NeedError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Need posted."), "success")
            return redirect(url_for(".detail", ref=need.ref))
    return _form_page(form, buyer=buyer, need=None)


@bp.route("/needs/<ref>/edit", methods=["GET", "POST"])
@login_required
def edit(ref: str) -> str | Response | tuple[str, int]:
    need = _managed_need(ref)
    form = NeedForm(obj=need)
    if form.validate_on_submit():
        try:
            services.update_need(
                need,
                **_values(form),  # type: ignore[arg-type]
                expected_version=submitted_version(form.version),
                editor=current_user,
            )
        except EditConflict as error:
            # Someone saved since this form was opened: their values above, ours below.
            db.session.rollback()
            conflict = conflict_for(error, form, submitted=submitted_version(form.version))
            page = render_template(
                "needs/form.html", form=form, buyer=need.buyer, need=need, conflict=conflict
            )
            return page, 409
        except NeedError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Need saved."), "success")
            return redirect(url_for(".detail", ref=need.ref))
    return _form_page(form, buyer=need.buyer, need=need)


def _change_status(ref: str, change: Callable[[Need, User], Need], done: str) -> Response:
    """Run one status change from a button; a refused change is a message, not an error."""
    need = _managed_need(ref)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        change(need, current_user)
    except NeedError as error:
        db.session.rollback()
        flash(gettext("Nothing changed: %(error)s.", error=error), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for(".detail", ref=ref))


@bp.post("/needs/<ref>/close")
@login_required
def close(ref: str) -> Response:
    return _change_status(ref, services.close_need, gettext("Need closed."))


@bp.post("/needs/<ref>/award")
@login_required
def award(ref: str) -> Response:
    return _change_status(ref, services.mark_awarded, gettext("Need marked as awarded."))


@bp.post("/needs/<ref>/reopen")
@login_required
def reopen(ref: str) -> Response:
    return _change_status(ref, services.reopen_need, gettext("Need reopened."))
