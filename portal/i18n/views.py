"""The language switch: a POST (CSRF-checked like every form) that sends the browser back."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, session, url_for
from flask_login import current_user

from portal.accounts.services import set_locale
from portal.extensions import db
from portal.i18n.locales import is_shipped
from portal.i18n.negotiation import SESSION_KEY
from portal.safe_urls import safe_next_url

bp = Blueprint("i18n", __name__)


@bp.post("/language")
def switch_language() -> Response:
    """Speak ``locale`` from now on: in the session, and in a member's own setting (which
    outranks the session, so a member's switch must change it or seem to do nothing)."""
    code = request.form.get("locale", "")
    if not is_shipped(code):
        abort(400, description="Choose one of the portal's languages.")
    session[SESSION_KEY] = code
    if current_user.is_authenticated:
        set_locale(current_user._get_current_object(), code)  # type: ignore[attr-defined]
        db.session.commit()
    back = safe_next_url(request.form.get("next")) or url_for("home.index")
    return redirect(back)
