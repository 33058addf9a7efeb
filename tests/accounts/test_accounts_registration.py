"""Registration, email confirmation and resending the link, through HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from account_helpers import PASSWORD, count_rows, link_in, log_in, page_text
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.accounts.models import Role, User
from portal.accounts.services import CONFIRM_MAX_AGE, CONFIRM_SALT, find_user_by_email
from portal.organizations.models import Organization, VerificationStatus

VENDOR_FORM = {
    "kind": "vendor",
    "full_name": "Grace Hopper",
    "email": "grace@cobol.example",
    "password": PASSWORD,
    "password_confirm": PASSWORD,
    "organization_name": "Cobol Smart Grid Inc.",
    "country": "",
    "city": "Arlington",
    "timezone": "America/New_York",
}
BUYER_FORM = {
    **VENDOR_FORM,
    "kind": "buyer",
    "full_name": "Maria Santos",
    "email": "maria@manila-water.example",
    "organization_name": "Manila Water District",
    "country": "PH",
    "city": "Manila",
    "timezone": "Asia/Manila",
}


def test_register_page_shows_the_form(client: Any) -> None:
    response = client.get("/register")
    assert response.status_code == 200
    for name in ("kind", "full_name", "email", "password", "organization_name", "timezone"):
        assert f'name="{name}"' in response.text
    assert "Asia/Ho_Chi_Minh" in response.text


def test_vendor_registration_creates_a_pending_us_organization_and_mails_a_link(
    client: Any, mailbox: Any
) -> None:
    response = client.post("/register", data={**VENDOR_FORM, "country": "TH"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/register/check-inbox"
    user = find_user_by_email("grace@cobol.example")
    assert user is not None
    assert user.role == Role.VENDOR
    assert user.email_confirmed_at is None
    assert user.timezone == "America/New_York"
    organization = user.organization
    assert organization is not None
    assert organization.name == "Cobol Smart Grid Inc."
    assert organization.country == "US"  # fixed for vendors, whatever was posted
    assert organization.status == VerificationStatus.PENDING
    [message] = mailbox.to("grace@cobol.example")
    assert message["Subject"] == "Confirm your email address"
    assert "/confirm/" in mailbox.body(message)


def test_buyer_registration_keeps_its_asean_country(client: Any, mailbox: Any) -> None:
    response = client.post("/register", data=BUYER_FORM)

    assert response.status_code == 302
    user = find_user_by_email("maria@manila-water.example")
    assert user is not None and user.organization is not None
    assert user.role == Role.BUYER
    assert user.organization.kind == "buyer"
    assert user.organization.country == "PH"
    assert len(mailbox.to("maria@manila-water.example")) == 1


def test_check_inbox_page_says_what_to_do(client: Any) -> None:
    response = client.get("/register/check-inbox")
    assert response.status_code == 200
    assert "Check your inbox to confirm your address" in response.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": ""}, "kind", "Choose vendor or city."),
        ({"kind": "staff"}, "kind", "Not a valid choice"),
        ({"full_name": ""}, "full_name", "Enter your name."),
        ({"email": "not-an-email"}, "email", "Invalid email address."),
        ({"password": "short", "password_confirm": "short"}, "password", "at least 10"),
        ({"password_confirm": PASSWORD + "x"}, "password_confirm", "do not match"),
        ({"organization_name": ""}, "organization_name", "organization&#39;s name"),
        ({"kind": "buyer", "country": ""}, "country", "Choose your city&#39;s country."),
        ({"kind": "buyer", "country": "US"}, "country", "Not a valid choice"),
        ({"city": ""}, "city", "Enter your city."),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Not a valid choice"),
    ],
)
def test_invalid_registration_shows_the_error_beside_its_field_and_saves_nothing(
    client: Any, mailbox: Any, change: dict[str, str], field: str, message: str
) -> None:
    response = client.post("/register", data={**VENDOR_FORM, **change})

    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    error_list = response.text.split(f'id="{field}-error"', 1)[1].split("</ul>", 1)[0]
    assert message in error_list
    assert "nothing was saved" in response.text
    assert count_rows(User) == 0
    assert count_rows(Organization) == 0
    assert mailbox.messages == []


def test_registering_a_known_email_answers_the_same_creates_nothing_and_warns_the_owner(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    make_member("known@vendor.example")
    users_before, organizations_before = count_rows(User), count_rows(Organization)

    known = client.post("/register", data={**VENDOR_FORM, "email": "Known@Vendor.example"})
    unknown = client.post("/register", data={**VENDOR_FORM, "email": "new@vendor.example"})

    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    known_page = client.get(known.headers["Location"]).text
    assert known_page == client.get(unknown.headers["Location"]).text
    # Only the new address got an account and an organization.
    assert count_rows(User) == users_before + 1
    assert count_rows(Organization) == organizations_before + 1
    [warning] = mailbox.to("known@vendor.example")
    assert warning["Subject"] == "Someone tried to register with your address"
    body = mailbox.body(warning)
    assert "http://localhost/login" in body
    assert "http://localhost/reset" in body
    assert "/confirm/" not in body


def test_the_mailed_link_confirms_the_address_and_then_login_works(
    client: Any, mailbox: Any
) -> None:
    client.post("/register", data=VENDOR_FORM)
    refused = log_in(client, VENDOR_FORM["email"])
    assert "Please confirm your email address first" in refused.text

    [message] = mailbox.to(VENDOR_FORM["email"])
    response = client.get(link_in(mailbox.body(message), "/confirm/"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "Your email address is confirmed" in client.get("/login").text
    user = find_user_by_email(VENDOR_FORM["email"])
    assert user is not None and user.email_confirmed_at is not None
    assert log_in(client, VENDOR_FORM["email"]).status_code == 302


def test_a_confirmation_link_can_be_followed_twice(client: Any, mailbox: Any) -> None:
    client.post("/register", data=VENDOR_FORM)
    link = link_in(mailbox.body(mailbox.to(VENDOR_FORM["email"])[0]), "/confirm/")
    first_time = find_user_by_email(VENDOR_FORM["email"])
    client.get(link)
    assert first_time is not None
    confirmed_at = first_time.email_confirmed_at

    assert client.get(link).status_code == 302
    assert first_time.email_confirmed_at == confirmed_at


class _SignedLongAgo(TimestampSigner):
    """Signs as if it were a day past the confirmation link's lifetime."""

    def get_timestamp(self) -> int:
        return int(time.time() - CONFIRM_MAX_AGE.total_seconds() - 86400)


def test_an_expired_confirmation_link_shows_a_clear_page(client: Any, make_member: Any) -> None:
    user = make_member("late@vendor.example", confirmed=False)
    serializer = URLSafeTimedSerializer("test-secret-key", salt=CONFIRM_SALT, signer=_SignedLongAgo)
    token = serializer.dumps({"user_id": user.id, "email": user.email})

    response = client.get(f"/confirm/{token}")

    assert response.status_code == 400
    assert "This confirmation link has expired or is not valid" in response.text
    assert 'href="/confirm/resend"' in response.text
    assert user.email_confirmed_at is None


@pytest.mark.parametrize("token", ["garbage", "eyJ1c2VyX2lkIjoxfQ.AAAAAA.BBBBBB"])
def test_a_forged_confirmation_link_shows_a_clear_page(client: Any, token: str) -> None:
    response = client.get(f"/confirm/{token}")
    assert response.status_code == 400
    assert "expired or is not valid" in response.text


def test_a_link_for_an_address_since_changed_is_refused(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    user = make_member("old@vendor.example", confirmed=False)
    token = URLSafeTimedSerializer("test-secret-key", salt=CONFIRM_SALT).dumps(
        {"user_id": user.id, "email": "someone-else@vendor.example"}
    )
    assert client.get(f"/confirm/{token}").status_code == 400
    assert user.email_confirmed_at is None


def test_resend_mails_a_new_link_only_to_an_unconfirmed_account_and_answers_the_same(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    make_member("waiting@vendor.example", confirmed=False)
    make_member("done@vendor.example", confirmed=True)

    answers = [
        client.post("/confirm/resend", data={"email": email})
        for email in ("waiting@vendor.example", "done@vendor.example", "nobody@vendor.example")
    ]

    assert {answer.status_code for answer in answers} == {302}
    assert {answer.headers["Location"] for answer in answers} == {"/register/check-inbox"}
    assert [m["To"] for m in mailbox.messages] == ["waiting@vendor.example"]
    assert "/confirm/" in mailbox.body(mailbox.messages[0])


def test_resend_form_shows_an_invalid_address_beside_the_field(client: Any) -> None:
    assert client.get("/confirm/resend").status_code == 200
    response = client.post("/confirm/resend", data={"email": "nope"})
    assert response.status_code == 400
    assert 'id="email-error"' in response.text


def test_registration_is_refused_without_a_csrf_token_when_csrf_is_on(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/register", data=VENDOR_FORM)
    assert response.status_code == 400
    assert "Form expired" in response.text
    assert count_rows(User) == 0


def test_known_and_unknown_emails_get_the_same_page_after_registration_errors(
    client: Any, make_member: Any
) -> None:
    make_member("known@vendor.example")
    bad = {**VENDOR_FORM, "password_confirm": "different password"}
    known = client.post("/register", data={**bad, "email": "known@vendor.example"})
    unknown = client.post("/register", data={**bad, "email": "unknown@vendor.example"})
    assert known.status_code == unknown.status_code == 400
    assert page_text(known.data, "known@vendor.example") == page_text(
        unknown.data, "unknown@vendor.example"
    )


def test_a_registration_that_loses_a_race_on_the_email_answers_like_any_other(
    client: Any, make_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two registrations of one new address at once: the check for an existing account
    saw none, then the insert hits the unique email. The answer must be the usual one."""
    make_member("grace@cobol.example")
    organizations_before = count_rows(Organization)
    monkeypatch.setattr("portal.accounts.services.find_user_by_email", lambda email: None)
    response = client.post("/register", data=VENDOR_FORM)
    assert response.status_code == 302
    assert response.headers["Location"] == "/register/check-inbox"
    assert count_rows(Organization) == organizations_before
