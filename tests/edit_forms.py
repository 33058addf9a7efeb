"""Helpers for the stale-edit tests: an edit form opened as a browser would, and the
message a refused save shows.

Imported as ``edit_forms`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from portal.accounts.models import User
from portal.extensions import db

TAIL = "since you opened it; your changes are below — review them and save again."


def named(user: User, name: str) -> User:
    user.full_name = name
    db.session.commit()
    return user


def hidden(html: str, name: str) -> str:
    """The value of a hidden input of the page's form (the CSRF token, the version)."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def open_form(client: FlaskClient, url: str) -> dict[str, str]:
    """GET an edit form: the hidden fields a browser would send back with it."""
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return {"csrf_token": hidden(html, "csrf_token"), "version": hidden(html, "version")}
