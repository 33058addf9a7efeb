"""Account settings: a member's personal API tokens, made (shown once) and revoked.

The page that shows a new token's secret is the answer to the POST that made it, never a
redirect to a page that could show it again, and it is not stored by any cache
(``no-store``: the page is seen logged in, which ``portal.security`` marks so).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.access import member_required
from portal.accounts.models import User
from portal.api import tokens
from portal.api.forms import NewTokenForm
from portal.extensions import db
from portal.organizations.forms import ConfirmForm

bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")

Page = str | tuple[str, int]


def _current_user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _page(form: NewTokenForm, status: int = 200, new: tokens.NewToken | None = None) -> Page:
    user = _current_user()
    page = render_template(
        "api/tokens.html",
        form=form,
        tokens=tokens.tokens_of(user),
        new=new,
        revoke_form=ConfirmForm(),
        may_have_tokens=tokens.may_have_tokens(user),
        max_active=tokens.MAX_ACTIVE_TOKENS,
    )
    return page, status


@bp.get("")
@member_required
def index() -> Page:
    return _page(NewTokenForm(formdata=None))


@bp.post("")
@member_required
def create() -> Page:
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        new = tokens.create_token(_current_user(), form.name.data or "")
    except tokens.TokenError as error:
        db.session.rollback()
        field = form._fields.get(error.field or "")
        if field is not None:
            field.errors = [*field.errors, str(error)]
        else:
            form.form_errors.append(str(error))
        return _page(form, 400)
    db.session.commit()
    return _page(NewTokenForm(formdata=None), 201, new)


@bp.post("/<int:token_id>/revoke")
@member_required
def revoke(token_id: int) -> Response:
    token = tokens.find_own_token(_current_user(), token_id)
    if token is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if tokens.revoke_token(token):
        db.session.commit()
        flash(
            gettext("The token “%(name)s” is revoked: it opens nothing any more.", name=token.name),
            "success",
        )
    else:
        flash(gettext("That token was already revoked."), "info")
    return redirect(url_for(".index"))
