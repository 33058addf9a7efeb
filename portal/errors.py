"""Error pages in the portal's own look: 400, 403, 404, 405, 413, 429 and 500."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

EXPLANATIONS = {
    400: "The request could not be understood. Please check what you entered and try again.",
    403: "You do not have permission to see or change this.",
    404: "We could not find that page. It may have been moved, closed or never existed.",
    405: "That action is not allowed on this page.",
    413: "What you sent is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing you entered was lost; please try again.",
}


def render_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=error.name,
            explanation=EXPLANATIONS.get(code, error.description),
        ),
        code,
    )


def register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return (
            render_template(
                "errors/error.html",
                code=400,
                title="Form expired",
                explanation="The form has expired or was sent from elsewhere. "
                "Please go back, reload the page and try again.",
            ),
            400,
        )

    # Unhandled exceptions reach this as an InternalServerError (outside testing, where
    # they propagate so that tests see them), and are logged by Flask first.
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        return render_error(error)
