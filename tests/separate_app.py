"""A second app on the run's database, for tests that need settings applied at start-up.

Rate limits, the proxy's forwarded headers and JSON logs are wired in ``create_app``, so
a test of them builds an app of its own instead of patching the session's. Such an app
commits for real: tests that use it only read, or clean up what they write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from portal import create_app
from portal.extensions import db
from portal.search.index import close_searchers

COPIED = (
    "SQLALCHEMY_DATABASE_URI",
    "PORTAL_MAIL_SERVER",
    "PORTAL_MAIL_PORT",
    "PORTAL_MODEL_DIR",
)


@contextmanager
def separate_app(base: Flask, index_dir: Path, **overrides: Any) -> Iterator[Flask]:
    """An app like the suite's (same database, SMTP server) with ``overrides`` applied."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "PORTAL_INDEX_DIR": str(index_dir),
        "PORTAL_MAIL_DELIVERY": "request",
        "PORTAL_BASE_URL": "http://localhost",
        "SERVER_NAME": "localhost",
        "WTF_CSRF_ENABLED": False,
        "PORTAL_RATELIMIT_ENABLED": False,
        **{key: base.config[key] for key in COPIED},
        **overrides,
    }
    app = create_app(config)
    try:
        yield app
    finally:
        close_searchers(index_dir)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
