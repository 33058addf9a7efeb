"""Follow buttons, "My followed needs" with its calendar feed, and saved searches.

Views are thin: parse the form, call one service, commit once, redirect (or re-render
with the error beside its field, 400). A member only ever reaches their own saved
searches (another member's id is a 404). The calendar feed needs no login: its 256-bit
token is the secret, as for the mission agendas.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, gettext
from flask_login import current_user, login_required

from portal.accounts.models import User
from portal.extensions import db
from portal.follows import services
from portal.follows.alerts import connect_receivers
from portal.follows.forms import ConfirmForm, SavedSearchForm
from portal.follows.models import SavedSearch
from portal.follows.updates import update_lines, update_text
from portal.needs.models import Need
from portal.needs.services import can_see_need, find_need
from portal.notifications.services import mail_locale, mode_of

bp = Blueprint("follows", __name__)

Page = str | tuple[str, int]


@bp.record_once
def _setup(state: Any) -> None:
    """Subscribe to the signals; give templates the follow button's state, and the
    updates of followed needs in the reader's words (a page's, or a mail's recipient's)."""
    connect_receivers()
    app: Flask = state.app
    app.jinja_env.globals["follow_button_state"] = follow_button_state
    app.jinja_env.filters["update_lines"] = update_lines
    app.jinja_env.filters["update_text"] = update_text


def follow_button_state(need: Need) -> dict[str, Any] | None:
    """What the need page's follow button shows; None when the visitor cannot follow."""
    if not services.may_follow(current_user) or not need.is_public:
        return None
    return {"following": services.follow_of(current_user, need) is not None, "form": ConfirmForm()}


def _user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _vendor_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Following is for vendor members: anyone else logged in gets 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not services.may_follow(current_user):
            abort(403)
        return view(*args, **kwargs)

    return login_required(wrapper)


def _need_or_404(ref: str) -> Need:
    need = find_need(ref)
    if need is None or not can_see_need(need, current_user):
        abort(404)
    return need


# --- following ---------------------------------------------------------------------------


@bp.post("/needs/<ref>/follow")
@_vendor_only
def follow(ref: str) -> Response:
    need = _need_or_404(ref)
    try:
        services.follow(_user(), need)
    except services.FollowError as exc:
        db.session.rollback()
        flash(gettext("You cannot follow this need: %(exc)s.", exc=exc), "error")
        return redirect(url_for("needs.detail", ref=need.ref))
    db.session.commit()
    flash(
        (gettext("You follow this need: we write when it is amended or a question is answered.")),
        "success",
    )
    return redirect(url_for("needs.detail", ref=need.ref))


@bp.post("/needs/<ref>/unfollow")
@_vendor_only
def unfollow(ref: str) -> Response:
    need = find_need(ref)
    if need is None:
        abort(404)
    services.unfollow(_user(), need)
    db.session.commit()
    flash(gettext("You no longer follow this need."), "success")
    target = request.form.get("next") == "followed"
    return redirect(url_for(".followed") if target else url_for("needs.detail", ref=need.ref))


@bp.get("/followed")
@_vendor_only
def followed() -> str:
    user = _user()
    token = services.calendar_token_of(user)
    return render_template(
        "follows/followed.html",
        items=services.followed_needs(user),
        feed_url=services.feed_url(token) if token else None,
        form=ConfirmForm(),
        question_deadline=services.question_deadline,
    )


def _calendar_changed(message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".followed") + "#calendar")


@bp.post("/followed/calendar")
@_vendor_only
def new_calendar_url() -> Response:
    had_one = services.calendar_token_of(_user()) is not None
    services.new_calendar_token(_user())
    return _calendar_changed(
        gettext("A new subscription URL is ready; the old one no longer works.")
        if had_one
        else gettext("Your subscription URL is ready: add it to your calendar.")
    )


@bp.post("/followed/calendar/revoke")
@_vendor_only
def revoke_calendar_url() -> Response:
    services.revoke_calendar_token(_user())
    return _calendar_changed(gettext("The subscription URL no longer works."))


@bp.get("/calendar/followed/<token>.ics")
def calendar_feed(token: str) -> Response:
    """The private feed: no login, the token is the secret; calendars poll it. In the
    member's language, as their mail is."""
    user = services.user_by_calendar_token(token)
    if user is None:
        abort(404)
    with force_locale(mail_locale(user)):
        text = services.deadlines_ics(user)
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="followed-deadlines.ics"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- saved searches ----------------------------------------------------------------------


def _own_search_or_404(search_id: int) -> SavedSearch:
    search = services.own_saved_search(_user(), search_id)
    if search is None:
        abort(404)
    return search


def _list_page() -> str:
    user = _user()
    searches = services.saved_searches_of(user)
    return render_template(
        "follows/saved_searches.html",
        searches=[
            (search, services.describe_criteria(services.SearchCriteria.of(search)))
            for search in searches
        ],
        form=ConfirmForm(),
        digest_mode=mode_of(user).value == "digest",
    )


@bp.get("/saved-searches")
@login_required
def saved_searches() -> str:
    return _list_page()


def _form_page(form: SavedSearchForm, search: SavedSearch | None, status: int) -> Page:
    page = render_template(
        "follows/search_form.html",
        form=form,
        search=search,
        matches=services.matches_of(search) if search is not None else [],
        read_reasons=services.read_reasons,
        digest_mode=mode_of(_user()).value == "digest",
    )
    return page, status


def _show_error(form: SavedSearchForm, error: services.FollowError) -> None:
    field = getattr(form, error.field or "name", None) or form.name
    field.errors = [*field.errors, str(error)]


@bp.route("/saved-searches/new", methods=["GET", "POST"])
@login_required
def new_search() -> Response | Page:
    """GET: the form filled with the search page's or directory's current query; POST
    (also from the "save this search" form on those pages): save it."""
    form = SavedSearchForm()
    if request.method == "GET":
        form.fill_from_query(request.args)
        return _form_page(form, None, 200)
    if not form.validate():
        return _form_page(form, None, 400)
    try:
        search = services.save_search(
            _user(),
            name=form.name.data or "",
            criteria=form.criteria(),
            frequency=form.frequency.data or "",
        )
    except services.FollowError as exc:
        db.session.rollback()
        _show_error(form, exc)
        return _form_page(form, None, 400)
    db.session.commit()
    flash(
        gettext("Saved “%(name)s”: we mail you needs that match it from now on.", name=search.name),
        "success",
    )
    return redirect(url_for(".saved_searches"))


@bp.route("/saved-searches/<int:search_id>/edit", methods=["GET", "POST"])
@login_required
def edit_search(search_id: int) -> Response | Page:
    search = _own_search_or_404(search_id)
    form = SavedSearchForm(obj=search) if request.method == "GET" else SavedSearchForm()
    if request.method == "GET":
        form.fill_from(services.SearchCriteria.of(search))
        return _form_page(form, search, 200)
    if not form.validate():
        return _form_page(form, search, 400)
    try:
        services.update_search(
            search,
            name=form.name.data or "",
            criteria=form.criteria(),
            frequency=form.frequency.data or "",
        )
    except services.FollowError as exc:
        db.session.rollback()
        _show_error(form, exc)
        return _form_page(form, search, 400)
    db.session.commit()
    flash(gettext("Your saved search is changed."), "success")
    return redirect(url_for(".saved_searches"))


def _search_action(search_id: int, change: Callable[[SavedSearch], object], done: str) -> Response:
    search = _own_search_or_404(search_id)
    change(search)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".saved_searches"))


@bp.post("/saved-searches/<int:search_id>/pause")
@login_required
def pause_search(search_id: int) -> Response:
    return _search_action(
        search_id,
        services.pause_search,
        gettext("The search is paused: no mail until you resume it."),
    )


@bp.post("/saved-searches/<int:search_id>/resume")
@login_required
def resume_search(search_id: int) -> Response:
    return _search_action(
        search_id,
        services.resume_search,
        gettext("The search is resumed: needs published from now on are mailed."),
    )


@bp.post("/saved-searches/<int:search_id>/delete")
@login_required
def delete_search(search_id: int) -> Response:
    return _search_action(
        search_id, services.delete_search, gettext("The saved search is deleted.")
    )
