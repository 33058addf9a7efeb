"""Logging: plain text for development, one JSON object a line in production.

``PORTAL_LOG_FORMAT=json`` formats every log record as JSON on stderr and adds one line per
request on the ``portal.request`` logger: method, path, status, duration in ms, the user's
id when logged in, and a request id (the proxy's ``X-Request-ID`` when it sends a sane
one, else a new one; echoed in the response). Query strings, form data and the secret
parts of paths (the token in ``/reset/<token>``) are never logged, nor emails or names:
a log line must not be a way to take over an account or learn a contact.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

REQUEST_LOGGER = "portal.request"
# View arguments that carry a secret: their value never reaches a log line.
SECRET_VIEW_ARGS = frozenset({"token"})
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

# What a LogRecord always has; anything else was passed with ``extra=`` and is kept.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ``extra=`` fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """Install the JSON handler and the per-request line when ``PORTAL_LOG_FORMAT=json``."""
    if app.config.get("PORTAL_LOG_FORMAT", "text") != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Replace, not add to, whatever wrote plain text (basicConfig, an earlier app).
    for existing in [h for h in root.handlers if getattr(h, "portal_json", False)]:
        root.removeHandler(existing)
    handler.portal_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Flask's own logger would print tracebacks a second time, in plain text.
    app.logger.handlers.clear()
    app.logger.propagate = True
    register_request_log(app)


def register_request_log(app: Flask) -> None:
    logger = logging.getLogger(REQUEST_LOGGER)

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()
        offered = request.headers.get("X-Request-ID", "")
        g.request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers.setdefault("X-Request-ID", request_id)
        logger.info(
            "%s %s %s",
            request.method,
            loggable_path(),
            response.status_code,
            extra={
                "method": request.method,
                "path": loggable_path(),
                "status": response.status_code,
                "duration_ms": round(duration, 2) if duration is not None else None,
                "user_id": _user_id(),
                "request_id": request_id,
            },
        )
        return response


def loggable_path() -> str:
    """The request's path with the value of every secret view argument masked."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in SECRET_VIEW_ARGS and value:
            path = path.replace(str(value), f"<{name}>")
    return path


def _user_id() -> int | None:
    """The logged-in user's id, if this request loaded one.

    Flask-Login caches the user it loaded in ``g._login_user``; reading it there instead
    of through ``current_user`` keeps a request that never looked at the user (static
    files, /healthz) from querying for one just to write its log line.
    """
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "id", None)
