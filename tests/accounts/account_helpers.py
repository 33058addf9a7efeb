"""Plain helpers for the account and mail tests (a unique module name, not a conftest)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from portal.extensions import db

PASSWORD = "correct horse battery"


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/login", data={"email": email, "password": password, **extra})


def is_logged_in(client: FlaskClient) -> bool:
    """Whether the client's session is still good: /account answers instead of redirecting."""
    return client.get("/account").status_code == 200


def link_in(body: str, path: str) -> str:
    """The first absolute link to ``path`` in a mail body, as a path for the test client."""
    match = re.search(rf"http://localhost({re.escape(path)}\S+)", body)
    assert match, f"no link to {path} in:\n{body}"
    return match.group(1)


def page_text(html: bytes | str, *remove: str) -> str:
    """The page with the given strings blanked, to compare two answers for equality."""
    text = html.decode() if isinstance(html, bytes) else html
    for value in remove:
        text = text.replace(value, "<removed>")
    return text


def count_rows(model: type) -> int:
    """How many rows a model's table holds, as the test's session sees it."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
