"""Login, logout, 'next' handling and CSRF, through HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from account_helpers import PASSWORD, is_logged_in, log_in, page_text

from portal.accounts.models import Role
from portal.accounts.services import create_user
from portal.accounts.views import safe_next_url
from portal.extensions import db


def test_login_page_shows_the_form(client: Any) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    # The required-field star right after its label, which portal.css keeps inline so the
    # star does not wrap onto a line of its own; the label's text stays the field's name.
    assert '<label for="email">Email</label><span class="required" aria-hidden="true">*</span>' in (
        response.text
    )
    assert 'name="email"' in response.text
    assert 'name="password"' in response.text
    assert 'name="remember"' in response.text
    assert 'href="/reset"' in response.text


def test_a_confirmed_member_logs_in_and_the_time_is_recorded(client: Any, make_member: Any) -> None:
    user = make_member("ada@vendor.example")
    assert user.last_login_at is None

    response = log_in(client, " ADA@vendor.example ")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert user.last_login_at is not None
    assert is_logged_in(client)
    assert "ada@vendor.example" in client.get("/account").text


def test_remember_me_sets_a_lasting_cookie_and_its_absence_does_not(
    app: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    remembered, plain = app.test_client(), app.test_client()

    log_in(remembered, "ada@vendor.example", remember="y")
    log_in(plain, "ada@vendor.example")

    assert remembered.get_cookie("remember_token") is not None
    assert plain.get_cookie("remember_token") is None


def test_wrong_email_and_wrong_password_get_exactly_the_same_answer(
    client: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")

    wrong_password = log_in(client, "ada@vendor.example", "not the password at all")
    wrong_email = log_in(client, "nobody@vendor.example", PASSWORD)

    assert wrong_password.status_code == wrong_email.status_code == 400
    assert "Email or password is incorrect." in wrong_password.text
    assert page_text(wrong_password.data, "ada@vendor.example") == page_text(
        wrong_email.data, "nobody@vendor.example"
    )
    assert not is_logged_in(client)


def test_an_unconfirmed_account_cannot_log_in_and_is_offered_a_new_link(
    client: Any, make_member: Any
) -> None:
    make_member("new@vendor.example", confirmed=False)

    response = log_in(client, "new@vendor.example")

    assert response.status_code == 400
    assert "Please confirm your email address first" in response.text
    assert 'href="/confirm/resend"' in response.text
    assert not is_logged_in(client)


def test_an_unconfirmed_account_with_a_wrong_password_learns_nothing(
    client: Any, make_member: Any
) -> None:
    make_member("new@vendor.example", confirmed=False)
    response = log_in(client, "new@vendor.example", "a wrong password")
    assert "Email or password is incorrect." in response.text
    assert "confirm" not in response.text.lower().split("<main", 1)[1].split("</form>")[0]


def test_an_inactive_account_cannot_log_in(client: Any, make_member: Any) -> None:
    make_member("gone@vendor.example", active=False)

    response = log_in(client, "gone@vendor.example")

    assert response.status_code == 400
    assert "This account has been deactivated." in response.text
    assert not is_logged_in(client)


def test_deactivating_an_account_ends_its_open_sessions(client: Any, make_member: Any) -> None:
    user = make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")
    assert is_logged_in(client)

    user.active = False

    assert not is_logged_in(client)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"email": ""}, "email"), ({"password": ""}, "password")],
)
def test_missing_login_fields_are_shown_beside_them(
    client: Any, change: dict[str, str], field: str
) -> None:
    response = client.post("/login", data={"email": "a@b.example", "password": "x", **change})
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text


def test_a_page_that_needs_login_sends_to_login_and_back(client: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")

    to_login = client.get("/account")
    assert to_login.status_code == 302
    assert to_login.headers["Location"] == "/login?next=%2Faccount"

    form_page = client.get(to_login.headers["Location"])
    assert 'action="/login?next=/account"' in form_page.text
    response = client.post(
        "/login?next=%2Faccount", data={"email": "ada@vendor.example", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "/\t/evil.example",
        "/%0a/evil.example".replace("%0a", "\n"),
        "javascript:alert(1)",
        "http:/evil.example",
        "evil.example",
    ],
)
def test_login_refuses_to_redirect_off_site(client: Any, make_member: Any, target: str) -> None:
    make_member("ada@vendor.example")

    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "ada@vendor.example", "password": PASSWORD},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert safe_next_url(target) is None


def test_login_keeps_a_local_next_with_its_query(client: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")
    response = client.post(
        "/login",
        query_string={"next": "/needs?sector=water&page=2"},
        data={"email": "ada@vendor.example", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/needs?sector=water&page=2"


def test_an_off_site_next_is_not_even_put_in_the_form(client: Any) -> None:
    response = client.get("/login", query_string={"next": "//evil.example"})
    assert "evil.example" not in response.text


def test_a_logged_in_visitor_to_login_goes_home(client: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_is_post_only_and_ends_the_session(client: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example", remember="y")

    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)

    response = client.post("/logout")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "You are logged out." in client.get("/login").text
    assert not is_logged_in(client)
    assert client.get_cookie("remember_token") is None


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_login_and_logout_need_the_csrf_token_when_csrf_is_on(
    app: Any, client: Any, make_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_member("ada@vendor.example")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    refused = log_in(client, "ada@vendor.example")
    assert refused.status_code == 400
    assert "Form expired" in refused.text
    assert not is_logged_in(client)

    token = _csrf_token(client.get("/login").text)
    assert log_in(client, "ada@vendor.example", csrf_token=token).status_code == 302
    assert is_logged_in(client)

    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)

    logout_token = _csrf_token(client.get("/account").text)
    assert client.post("/logout", data={"csrf_token": logout_token}).status_code == 302
    assert not is_logged_in(client)


def test_staff_land_on_their_pipeline_and_members_on_the_home_page(
    app: Any, make_member: Any
) -> None:
    """Regression: staff landed on the public home page after logging in."""
    make_member("ada@vendor.example")
    create_user("dana@trade.example", PASSWORD, Role.STAFF, email_confirmed=True)
    db.session.commit()
    member, staff = app.test_client(), app.test_client()

    assert log_in(member, "ada@vendor.example").headers["Location"] == "/"
    assert log_in(staff, "dana@trade.example").headers["Location"] == "/staff/dashboard"
    assert staff.get("/login").headers["Location"] == "/staff/dashboard"  # already in
    asked = app.test_client().post(
        "/login?next=/needs", data={"email": "dana@trade.example", "password": PASSWORD}
    )
    assert asked.headers["Location"] == "/needs"  # a page asked for still comes first
