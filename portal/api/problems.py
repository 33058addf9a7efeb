"""Errors under ``/api/`` as ``application/problem+json`` (RFC 9457), never an HTML page.

``portal.errors`` hands every HTTP error of an API path here, whichever part raised it:
a view's ``abort``, the routing (an unknown path, a method not allowed), the input checks
that run before any view (a NUL byte), the rate limiter, or an unexpected exception.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, has_request_context, json, request
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"
PROBLEM_TYPE = "application/problem+json"
# Headers of an HTTP error that say how to go on; the rest (its HTML type) are dropped.
KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow")


def is_api_request() -> bool:
    return has_request_context() and request.path.startswith(API_PREFIX)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a code with no standard name
        return "Error"


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """A problem answer: ``type`` stays ``about:blank``, so ``title`` is the status's."""
    body = {
        "type": "about:blank",
        "title": _phrase(status),
        "status": status,
        "detail": detail,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_for(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 429:
        detail = f"Too many requests ({error.description}); wait as Retry-After says."
    elif status >= 500:
        detail = "Something went wrong on our side; please try again."
    else:
        detail = error.description or _phrase(status)
    kept = {name: value for name, value in error.get_headers() if name in KEPT_HEADERS}
    return problem(status, detail, kept)
