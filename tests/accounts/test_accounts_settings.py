"""Account settings: name and time zone, and changing the password, through HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from account_helpers import PASSWORD, is_logged_in, log_in

from portal.accounts.services import verify_password

NEW_PASSWORD = "a much newer passphrase"


@pytest.fixture
def member(client: Any, make_member: Any) -> Any:
    user = make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")
    return user


def _change_password(client: Any, **fields: str) -> Any:
    data = {
        "password-current_password": PASSWORD,
        "password-new_password": NEW_PASSWORD,
        "password-new_password_confirm": NEW_PASSWORD,
    }
    data.update({f"password-{name}": value for name, value in fields.items()})
    return client.post("/account/password", data=data)


def test_settings_need_a_login(client: Any) -> None:
    assert client.get("/account").status_code == 302
    assert client.post("/account/password").status_code == 302


def test_settings_page_shows_the_current_values(client: Any, member: Any) -> None:
    response = client.get("/account")
    assert response.status_code == 200
    assert 'value="Ada Example"' in response.text
    assert '<option selected value="UTC">' in response.text
    assert "Org of ada@vendor.example" in response.text


def test_changing_name_and_time_zone(client: Any, member: Any) -> None:
    response = client.post(
        "/account", data={"profile-full_name": "Ada Lovelace", "profile-timezone": "Asia/Manila"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert member.full_name == "Ada Lovelace"
    assert member.timezone == "Asia/Manila"
    assert "Your settings are saved." in client.get("/account").text


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"profile-full_name": "", "profile-timezone": "Asia/Manila"}, "profile-full_name"),
        ({"profile-full_name": "Ada L", "profile-timezone": "Europe/Paris"}, "profile-timezone"),
        ({"profile-full_name": "Ada L", "profile-timezone": "Not/AZone"}, "profile-timezone"),
    ],
)
def test_invalid_settings_show_the_error_and_save_nothing(
    client: Any, member: Any, data: dict[str, str], field: str
) -> None:
    response = client.post("/account", data=data)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    assert member.full_name == "Ada Example"
    assert member.timezone == "UTC"


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    app: Any, client: Any, member: Any
) -> None:
    other_device = app.test_client()
    log_in(other_device, "ada@vendor.example", remember="y")
    assert is_logged_in(other_device)
    version_before = member.session_version

    response = _change_password(client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert member.session_version == version_before + 1
    assert verify_password(member, NEW_PASSWORD)
    page = client.get("/account")  # still logged in here, with the news
    assert page.status_code == 200
    assert "Other devices have been logged out." in page.text
    # The other device's session and its remember-me cookie both carry the old version.
    assert not is_logged_in(other_device)
    assert log_in(other_device, "ada@vendor.example", PASSWORD).status_code == 400
    assert log_in(other_device, "ada@vendor.example", NEW_PASSWORD).status_code == 302


def test_a_remembered_session_stays_remembered_after_its_own_password_change(
    app: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    device = app.test_client()
    log_in(device, "ada@vendor.example", remember="y")
    old_cookie = device.get_cookie("remember_token")
    assert old_cookie is not None

    _change_password(device)

    new_cookie = device.get_cookie("remember_token")
    assert new_cookie is not None
    assert new_cookie.value != old_cookie.value


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"current_password": "not my password"}, "current_password", "not correct"),
        ({"current_password": ""}, "current_password", "Enter your current password."),
        ({"new_password": "short", "new_password_confirm": "short"}, "new_password", "at least"),
        ({"new_password_confirm": "something else entirely"}, "new_password_confirm", "match"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app: Any, client: Any, member: Any, fields: dict[str, str], field: str, message: str
) -> None:
    other_device = app.test_client()
    log_in(other_device, "ada@vendor.example")
    version_before = member.session_version

    response = _change_password(client, **fields)

    assert response.status_code == 400
    error_list = response.text.split(f'id="password-{field}-error"', 1)[1].split("</ul>", 1)[0]
    assert message in error_list
    assert member.session_version == version_before
    assert verify_password(member, PASSWORD)
    assert is_logged_in(client)
    assert is_logged_in(other_device)


def test_settings_forms_need_the_csrf_token_when_csrf_is_on(
    app: Any, client: Any, member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert _change_password(client).status_code == 400
    assert verify_password(member, PASSWORD)
    response = client.post(
        "/account", data={"profile-full_name": "Mallory", "profile-timezone": "UTC"}
    )
    assert response.status_code == 400
    assert member.full_name == "Ada Example"
