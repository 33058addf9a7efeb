"""No account enumeration: every form that takes an email answers alike for every address.

The other account tests compare a known address with an unknown one form by form; here
each form is asked about an unknown address and about accounts in every state (confirmed,
unconfirmed, deactivated), and the answers must match in status, redirect, cookies set
and the page a browser ends up on (with the address itself blanked out).
"""

from __future__ import annotations

from typing import Any

import pytest
from account_helpers import page_text

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
