"""Work that runs once a response's body has gone out (mail delivery, password resets).

Werkzeug's ``Response.call_on_close`` is not enough: its development server, which serves
``portal run`` and the browser tests, skips ``close()`` when the browser resets the
connection while the server drains the request (seen with a POST answered by a redirect),
so the work silently never ran and a message waited until some later request sent mail.

Here the body is wrapped in a generator whose ``finally`` runs the work: when the server
has written the last chunk and closes it, or, if the server gave up on the connection
without closing, when the generator is dropped. Each piece of work is given the app
context it needs by whoever schedules it, and one failing does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import request

log = logging.getLogger(__name__)

ENVIRON_KEY = "portal.after_response"

Work = Callable[[], object]


def after_response(work: Work) -> None:
    """Run ``work`` once this request's response has gone out."""
    request.environ.setdefault(ENVIRON_KEY, []).append(work)


class AfterResponseMiddleware:
    """Wraps the WSGI app: a response with work scheduled gets a body that runs it."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = self.wsgi_app(environ, start_response)
        work: list[Work] | None = environ.get(ENVIRON_KEY)
        if not work:
            return body
        return _then(body, work)


def _then(body: Iterable[bytes], work: list[Work]) -> Iterator[bytes]:
    try:
        yield from body
    finally:
        try:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        finally:
            for item in work:
                try:
                    item()
                except Exception:  # the response has gone; the worker retries mail
                    log.exception("work after the response failed")
