"""Error pages in the portal's own look: 400, 403, 404, 405, 413, 429 and 500.

Every error page first rolls back what the request had not committed: an error ends the
request's unit of work, and the page itself (which reads the logged-in user) must not
run inside a transaction that a failed statement has already broken.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.api.problems import is_api_request, problem_for
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext

log = logging.getLogger(__name__)

EXPLANATIONS = {
    400: lazy_gettext(
        "The request could not be understood. Please check what you entered and try again."
    ),
    403: lazy_gettext("You do not have permission to see or change this."),
    404: lazy_gettext(
        "We could not find that page. It may have been moved, closed or never existed."
    ),
    405: lazy_gettext("That action is not allowed on this page."),
    413: lazy_gettext("What you sent is too large."),
    429: lazy_gettext("Too many requests. Please wait a moment and try again."),
    500: lazy_gettext(
        "Something went wrong on our side. Nothing you entered was lost; please try again."
    ),
}

# Werkzeug's names of the statuses above, in the reader's language (others keep its name).
TITLES = {
    400: lazy_gettext("Bad Request"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    413: lazy_gettext("Request Entity Too Large"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
}


def end_unit_of_work() -> None:
    """Roll back whatever the failed request left uncommitted."""
    try:
        db.session.rollback()
    except Exception:  # a lost connection: the pool replaces it on the next checkout
        log.exception("rollback before an error page failed")
        db.session.remove()


def render_error(error: HTTPException) -> tuple[str, int]:
    end_unit_of_work()
    code = error.code or 500
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=TITLES.get(code, error.name),
            explanation=EXPLANATIONS.get(code, error.description),
        ),
        code,
    )


def register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        end_unit_of_work()
        return (
            render_template(
                "errors/error.html",
                code=400,
                title=gettext("Form expired"),
                explanation=gettext(
                    "The form has expired or was sent from elsewhere. "
                    "Please go back, reload the page and try again."
                ),
            ),
            400,
        )

    # Unhandled exceptions reach this as an InternalServerError (outside testing, where
    # they propagate so that tests see them), and are logged by Flask first.
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():  # /api/ answers problem+json, never a page
            end_unit_of_work()
            return problem_for(error)
        return render_error(error)
