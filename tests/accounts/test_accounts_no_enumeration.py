"""No account enumeration: every form that takes an email answers alike for every address.

The other account tests compare a known address with an unknown one form by form; here
each form is asked about an unknown address and about accounts in every state (confirmed,
unconfirmed, deactivated), and the answers must match in status, redirect, cookies set
and the page a browser ends up on (with the address itself blanked out).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from account_helpers import count_rows, page_text
from flask.testing import FlaskClient

from portal.accounts.models import PasswordResetToken
from portal.extensions import db

STATES = {
    "confirmed@vendor.example": {"confirmed": True, "active": True},
    "unconfirmed@vendor.example": {"confirmed": False, "active": True},
    "inactive@vendor.example": {"confirmed": True, "active": False},
}
UNKNOWN = "nobody@vendor.example"
REGISTRATION = {
    "kind": "vendor",
    "full_name": "Grace Hopper",
    "password": "correct horse battery",
    "password_confirm": "correct horse battery",
    "organization_name": "Cobol Smart Grid Inc.",
    "country": "",
    "city": "Arlington",
    "timezone": "America/New_York",
}


def _answer(app: Any, path: str, form: dict[str, str], email: str) -> tuple[Any, ...]:
    """What a fresh browser sees: status, redirect, cookie names, and the final page."""
    client = app.test_client()
    response = client.post(path, data=form)
    cookies = sorted(h.split("=", 1)[0] for h in response.headers.getlist("Set-Cookie"))
    location = response.headers.get("Location")
    final = client.get(location) if location else response
    return (
        response.status_code,
        location,
        cookies,
        final.status_code,
        page_text(final.data, email, email.split("@")[0]),
    )


@pytest.fixture
def accounts(make_member: Any) -> list[str]:
    for email, state in STATES.items():
        make_member(email, **state)
    return [*STATES, UNKNOWN]


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login", {"password": "not the password at all"}),
        ("/reset", {}),
        ("/confirm/resend", {}),
        ("/register", REGISTRATION),
        # a registration that fails validation must not differ either
        ("/register", {**REGISTRATION, "password_confirm": "something else"}),
    ],
    ids=["login", "reset", "resend", "register", "register-invalid"],
)
def test_every_account_state_gets_the_answer_an_unknown_address_gets(
    app: Any, accounts: list[str], path: str, form: dict[str, str]
) -> None:
    answers = {email: _answer(app, path, {**form, "email": email}, email) for email in accounts}
    expected = answers[UNKNOWN]
    for email, answer in answers.items():
        assert answer == expected, f"{path} answers {email} differently"


@pytest.mark.parametrize(
    ("path", "mailed"),
    [
        ("/reset", {"confirmed@vendor.example", "unconfirmed@vendor.example"}),
        ("/confirm/resend", {"unconfirmed@vendor.example"}),
    ],
    ids=["reset", "resend"],
)
def test_nothing_about_the_address_is_done_before_the_answer_has_gone_out(
    app: Any, accounts: list[str], mailbox: Any, path: str, mailed: set[str]
) -> None:
    """Regression: a known address waited for the token write and the SMTP conversation,
    so the time of the answer told which addresses have accounts. Now the answer is made
    with the same statements for every address, none about users, and the work runs once
    the server has sent it (closed the response)."""
    app.test_client().get(path)  # the accounts' organizations are indexed after this one
    statements: dict[str, list[str]] = {}
    for email in accounts:
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any, seen=seen) -> None:
            seen.append(statement)

        client = FlaskClient(app, app.response_class)  # does not close the response itself
        before = (len(mailbox.messages), count_rows(PasswordResetToken))
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = client.post(path, data={"email": email})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        assert response.status_code == 302
        assert (len(mailbox.messages), count_rows(PasswordResetToken)) == before
        statements[email] = seen
        response.close()  # what the server does once it has sent the answer

    assert all(seen == statements[UNKNOWN] for seen in statements.values())
    assert not any("users" in statement for statement in statements[UNKNOWN])
    assert {message["To"] for message in mailbox.messages} == mailed
