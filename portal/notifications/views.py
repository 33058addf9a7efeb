"""Notification settings, and the unsubscribe and mute links that arrive in mail.

The links work without logging in (a signed token names the member) but only act on a
POST from their confirmation page, so mail scanners that open every link change nothing.
The unsubscribe POST is exempt from CSRF for RFC 8058 one-click unsubscribe, which mail
clients send without a form token; its signed token is what authorizes it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from portal.accounts.models import User
from portal.extensions import csrf, db
from portal.notifications import services
from portal.notifications.forms import ConfirmForm, PreferencesForm

bp = Blueprint("notifications", __name__)

ResponseLike = Response | str | tuple[str, int]


def _current_user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _settings_page(form: PreferencesForm, status: int = 200) -> tuple[str, int]:
    user = _current_user()
    mutes = [(row, services.mute_label(row.kind, row.key)) for row in services.mutes_of(user)]
    return render_template(
        "notifications/settings.html", form=form, mutes=mutes, remove_form=ConfirmForm()
    ), status


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings() -> ResponseLike:
    user = _current_user()
    form = PreferencesForm()
    if request.method == "GET":
        form.mode.data = services.mode_of(user).value
        form.optional_mail.data = not services.is_unsubscribed(user)
    if not form.validate_on_submit():
        return _settings_page(form, 400 if form.is_submitted() else 200)
    try:
        services.set_mode(user, form.mode.data or "")
    except services.NotificationError as exc:
        db.session.rollback()
        form.mode.errors = [str(exc)]
        return _settings_page(form, 400)
    if form.optional_mail.data:
        services.resubscribe(user)
    else:
        services.unsubscribe(user)
    db.session.commit()
    flash(gettext("Your mail settings are saved."), "success")
    return redirect(url_for("notifications.settings"))


@bp.post("/settings/notifications/mutes/<int:mute_id>/remove")
@login_required
def remove_mute(mute_id: int) -> ResponseLike:
    if not services.unmute(_current_user(), mute_id):
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(gettext("The mute is removed."), "success")
    return redirect(url_for("notifications.settings"))


def _invalid_link() -> tuple[str, int]:
    return render_template("notifications/invalid_link.html"), 400


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str) -> ResponseLike:
    try:
        user = services.user_from_unsubscribe_token(token)
    except services.InvalidLink:
        db.session.rollback()
        return _invalid_link()
    if request.method == "GET":
        return render_template(
            "notifications/unsubscribe.html", user=user, token=token, form=ConfirmForm(), done=False
        )
    services.unsubscribe(user)
    db.session.commit()
    return render_template(
        "notifications/unsubscribe.html", user=user, token=token, form=None, done=True
    )


@bp.route("/mute/<token>", methods=["GET", "POST"])
@csrf.exempt
def mute(token: str) -> ResponseLike:
    try:
        request_ = services.mute_from_token(token)
    except services.InvalidLink:
        db.session.rollback()
        return _invalid_link()
    if request.method == "GET":
        return render_template(
            "notifications/mute.html", mute=request_, token=token, form=ConfirmForm(), done=False
        )
    try:
        services.mute(request_.user, request_.kind, request_.key)
    except services.NotificationError:
        db.session.rollback()
        return _invalid_link()
    db.session.commit()
    return render_template(
        "notifications/mute.html", mute=request_, token=token, form=None, done=True
    )
