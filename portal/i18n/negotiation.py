"""Which locale a request speaks: the member's setting, the session, the browser, English."""

from __future__ import annotations

from flask import has_request_context, request, session
from flask_login import current_user

from portal.i18n.locales import DEFAULT_LOCALE, is_shipped, shipped_match

SESSION_KEY = "locale"


def browser_locale(header_values: list[tuple[str, float]]) -> str | None:
    """The shipped locale the browser prefers most, by quality, then by order.

    Werkzeug's ``best_match`` needs exact tags; browsers send ``fil-PH`` or ``tl``, so
    each tag is reduced to its language first.
    """
    ranked = sorted(
        enumerate(header_values), key=lambda item: (-item[1][1], item[0])
    )  # stable: equal qualities keep the browser's order
    for _, (tag, quality) in ranked:
        if quality <= 0:
            continue
        match = shipped_match(tag)
        if match is not None:
            return match
    return None


def member_locale() -> str | None:
    """The logged-in member's own setting, if they made one."""
    if not current_user.is_authenticated:
        return None
    code = getattr(current_user, "locale", None)
    return code if is_shipped(code) else None


def select_locale() -> str:
    """Flask-Babel's locale selector for pages (mail forces its recipient's instead)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    chosen = member_locale()
    if chosen is None:
        stored = session.get(SESSION_KEY)
        chosen = stored if is_shipped(stored) else None
    if chosen is None:
        chosen = browser_locale(list(request.accept_languages))
    return chosen or DEFAULT_LOCALE
