"""Webhook pages of an organization: its endpoints, each one's delivery log and actions.

Keyed by the organization's ref as the other management pages are. Members manage;
trade staff see the list and the logs only (``services.can_view``). A new or rotated
secret is shown in the answer to the POST that made it, once, never stored in a cookie
or a flash message, and the page is not cached.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.organizations.models import Organization
from portal.organizations.services import find_organization
from portal.webhooks import services
from portal.webhooks.forms import ConfirmForm, EndpointForm
from portal.webhooks.models import EVENT_LABELS, WebhookEndpoint
from portal.webhooks.services import EndpointValues, NewSecret, WebhookError
from portal.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER

bp = Blueprint("webhooks", __name__)


def _organization(ref: str, *, manage: bool) -> Organization:
    """The organization at ``ref`` if the user may see (or change) its webhooks."""
    organization = find_organization(ref)
    if organization is None:
        abort(404)
    allowed = services.can_manage if manage else services.can_view
    if not allowed(organization, current_user):
        abort(403)
    return organization


def _endpoint(organization: Organization, endpoint_id: int) -> WebhookEndpoint:
    return services.find_endpoint(organization, endpoint_id) or abort(404)


def _values(form: EndpointForm) -> EndpointValues:
    return EndpointValues(
        url=form.url.data or "",
        description=form.description.data or "",
        events=form.events.data or [],
    )


def _show_error(form: EndpointForm, error: WebhookError) -> None:
    field = form._fields.get(error.field or "")
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _to_detail(endpoint: WebhookEndpoint) -> Response:
    return redirect(
        url_for(".detail", ref=endpoint.organization.ref, endpoint_id=endpoint.id), code=303
    )


def _secret_page(organization: Organization, created: NewSecret, rotated: bool) -> Response:
    html = render_template(
        "webhooks/secret.html",
        organization=organization,
        endpoint=created.endpoint,
        secret=created.secret,
        rotated=rotated,
        grace_hours=current_app.config["PORTAL_WEBHOOKS_ROTATION_GRACE_HOURS"],
        signature_header=SIGNATURE_HEADER,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/organizations/<ref>/webhooks")
@login_required
def endpoints(ref: str) -> str:
    organization = _organization(ref, manage=False)
    return render_template(
        "webhooks/list.html",
        organization=organization,
        endpoints=[(e, services.delivery_counts(e)) for e in services.endpoints_of(organization)],
        can_manage=services.can_manage(organization, current_user),
        event_labels=EVENT_LABELS,
    )


@bp.route("/organizations/<ref>/webhooks/new", methods=["GET", "POST"])
@login_required
def new(ref: str) -> str | Response | tuple[str, int]:
    organization = _organization(ref, manage=True)
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            created = services.create_endpoint(organization, _values(form), current_user)
        except WebhookError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            return _secret_page(organization, created, rotated=False)
    status = 400 if form.errors else 200
    return render_template(
        "webhooks/form.html", form=form, organization=organization, endpoint=None
    ), status


@bp.get("/organizations/<ref>/webhooks/<int:endpoint_id>")
@login_required
def detail(ref: str, endpoint_id: int) -> str:
    organization = _organization(ref, manage=False)
    endpoint = _endpoint(organization, endpoint_id)
    page = db.paginate(
        services.deliveries_query(endpoint),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PORTAL_PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "webhooks/detail.html",
        organization=organization,
        endpoint=endpoint,
        page=page,
        counts=services.delivery_counts(endpoint),
        can_manage=services.can_manage(organization, current_user),
        confirm_form=ConfirmForm(),
        event_labels=EVENT_LABELS,
        signature_header=SIGNATURE_HEADER,
        event_id_header=EVENT_ID_HEADER,
    )


@bp.route("/organizations/<ref>/webhooks/<int:endpoint_id>/edit", methods=["GET", "POST"])
@login_required
def edit(ref: str, endpoint_id: int) -> str | Response | tuple[str, int]:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    form = EndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            services.update_endpoint(endpoint, _values(form))
        except WebhookError as error:
            db.session.rollback()
            _show_error(form, error)
        else:
            db.session.commit()
            flash(gettext("Endpoint saved."), "success")
            return _to_detail(endpoint)
    status = 400 if form.errors else 200
    return render_template(
        "webhooks/form.html", form=form, organization=organization, endpoint=endpoint
    ), status


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/delete")
@login_required
def delete(ref: str, endpoint_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    _confirmed()
    services.delete_endpoint(endpoint)
    db.session.commit()
    flash(gettext("Endpoint deleted, with its delivery log."), "success")
    return redirect(url_for(".endpoints", ref=organization.ref), code=303)


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/rotate")
@login_required
def rotate(ref: str, endpoint_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    _confirmed()
    rotated = services.rotate_secret(endpoint)
    db.session.commit()
    return _secret_page(organization, rotated, rotated=True)


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/pause")
@login_required
def pause(ref: str, endpoint_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    _confirmed()
    services.set_paused(endpoint, True)
    db.session.commit()
    flash(gettext("Endpoint paused: new events wait for it until you resume it."), "success")
    return _to_detail(endpoint)


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/resume")
@login_required
def resume(ref: str, endpoint_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    _confirmed()
    services.set_paused(endpoint, False)
    db.session.commit()
    flash(gettext("Endpoint resumed: what waited is sent now."), "success")
    return _to_detail(endpoint)


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/test")
@login_required
def send_test(ref: str, endpoint_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    _confirmed()
    try:
        services.send_test(endpoint)
    except WebhookError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _to_detail(endpoint)
    db.session.commit()
    flash(
        (gettext("A test event (ping) is queued; it appears in the log below once sent.")),
        "success",
    )
    return _to_detail(endpoint)


@bp.post("/organizations/<ref>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry")
@login_required
def retry(ref: str, endpoint_id: int, delivery_id: int) -> Response:
    organization = _organization(ref, manage=True)
    endpoint = _endpoint(organization, endpoint_id)
    delivery = services.find_delivery(endpoint, delivery_id) or abort(404)
    _confirmed()
    try:
        services.retry_failed(delivery)
    except WebhookError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _to_detail(endpoint)
    db.session.commit()
    flash(gettext("The delivery is due again, with a new round of attempts."), "success")
    return _to_detail(endpoint)
