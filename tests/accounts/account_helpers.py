"""Plain helpers for the account and mail tests (a unique module name, not a conftest)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from support import count_rows  # noqa: F401 - re-exported for this feature's tests

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
