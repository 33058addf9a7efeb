"""Password reset: asking for a link, using it once, expiry, and what it changes."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from account_helpers import PASSWORD, count_rows, is_logged_in, link_in, log_in

from portal.accounts.models import PasswordResetToken
from portal.accounts.services import create_password_reset, start_session, verify_password
from portal.db import utc_now
from portal.extensions import db

NEW_PASSWORD = "a brand new passphrase"


def _ask_for_reset(client: Any, email: str) -> Any:
    return client.post("/reset", data={"email": email})


def _reset_link(client: Any, mailbox: Any, email: str) -> str:
    _ask_for_reset(client, email)
    [message] = mailbox.to(email)
    return link_in(mailbox.body(message), "/reset/")


def _tokens_of(user: Any) -> list[PasswordResetToken]:
    return list(
        db.session.scalars(
            sa.select(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id)
            .order_by(PasswordResetToken.id)
        )
    )


def test_reset_page_shows_the_form(client: Any) -> None:
    response = client.get("/reset")
    assert response.status_code == 200
    assert 'name="email"' in response.text


def test_known_and_unknown_addresses_get_the_same_answer(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")

    known = _ask_for_reset(client, "ada@vendor.example")
    known_page = client.get(known.headers["Location"]).text
    unknown = _ask_for_reset(client, "nobody@vendor.example")
    unknown_page = client.get(unknown.headers["Location"]).text

    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == "/reset"
    assert known_page == unknown_page
    assert "If an account exists for that address" in known_page
    assert [m["To"] for m in mailbox.messages] == ["ada@vendor.example"]
    assert count_rows(PasswordResetToken) == 1


def test_the_mail_holds_an_absolute_link_and_only_the_hash_is_stored(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    user = make_member("ada@vendor.example")
    before = utc_now()

    link = _reset_link(client, mailbox, "ada@vendor.example")

    token = link.removeprefix("/reset/")
    [row] = _tokens_of(user)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert row.used_at is None
    hours = dt.timedelta(hours=2)  # PORTAL_PASSWORD_RESET_HOURS by default
    assert before + hours <= row.expires_at <= utc_now() + hours
    assert "http://localhost/reset/" in mailbox.body(mailbox.messages[0])


def test_an_inactive_account_gets_no_link(client: Any, mailbox: Any, make_member: Any) -> None:
    make_member("gone@vendor.example", active=False)
    assert _ask_for_reset(client, "gone@vendor.example").headers["Location"] == "/reset"
    assert mailbox.messages == []
    assert count_rows(PasswordResetToken) == 0


def test_an_invalid_address_is_shown_beside_the_field(client: Any, mailbox: Any) -> None:
    response = _ask_for_reset(client, "not an address")
    assert response.status_code == 400
    assert 'id="email-error"' in response.text
    assert mailbox.messages == []


def test_using_the_link_sets_the_password_logs_in_and_ends_other_sessions(
    app: Any, client: Any, mailbox: Any, make_member: Any
) -> None:
    user = make_member("ada@vendor.example", confirmed=False)
    elsewhere = app.test_client()
    with elsewhere.session_transaction() as session:  # a session opened before the reset
        session["_user_id"] = start_session(user)
        session["_fresh"] = True
    assert is_logged_in(elsewhere)
    link = _reset_link(client, mailbox, "ada@vendor.example")
    version_before = user.session_version

    form = client.get(link)
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    response = client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert verify_password(user, NEW_PASSWORD)
    assert user.session_version == version_before + 1
    assert user.email_confirmed_at is not None  # following the mailed link proves the address
    assert all(token.used_at is not None for token in _tokens_of(user))
    assert is_logged_in(client)
    assert not is_logged_in(elsewhere)


def test_a_link_works_only_once(client: Any, mailbox: Any, make_member: Any) -> None:
    user = make_member("ada@vendor.example")
    link = _reset_link(client, mailbox, "ada@vendor.example")
    client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    client.post("/logout")

    again = client.post(
        link, data={"password": "yet another password", "password_confirm": "yet another password"}
    )

    assert again.status_code == 400
    assert "This link has expired or was already used" in again.text
    assert 'href="/reset"' in again.text
    assert verify_password(user, NEW_PASSWORD)
    assert client.get(link).status_code == 400


def test_using_one_link_spends_the_users_other_links(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    _ask_for_reset(client, "ada@vendor.example")
    _ask_for_reset(client, "ada@vendor.example")
    first, second = (link_in(mailbox.body(m), "/reset/") for m in mailbox.messages)

    client.post(second, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

    assert client.get(first).status_code == 400


def test_an_expired_link_shows_a_clear_page(client: Any, make_member: Any) -> None:
    user = make_member("ada@vendor.example")
    token = create_password_reset(user, now=utc_now() - dt.timedelta(hours=3))
    db.session.commit()

    for response in (
        client.get(f"/reset/{token}"),
        client.post(
            f"/reset/{token}", data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
        ),
    ):
        assert response.status_code == 400
        assert "This link has expired or was already used" in response.text
    assert verify_password(user, PASSWORD)


def test_an_unknown_link_shows_the_same_clear_page(client: Any) -> None:
    response = client.get("/reset/not-a-token-we-ever-made")
    assert response.status_code == 400
    assert "This link has expired or was already used" in response.text


def test_a_link_of_a_since_deactivated_account_is_refused(
    client: Any, mailbox: Any, make_member: Any
) -> None:
    user = make_member("ada@vendor.example")
    link = _reset_link(client, mailbox, "ada@vendor.example")
    user.active = False
    db.session.commit()
    assert client.get(link).status_code == 400


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password": "short", "password_confirm": "short"}, "password"),
        ({"password": NEW_PASSWORD, "password_confirm": "different again"}, "password_confirm"),
        ({"password": "", "password_confirm": ""}, "password"),
    ],
)
def test_an_invalid_new_password_keeps_the_link_usable(
    client: Any, mailbox: Any, make_member: Any, data: dict[str, str], field: str
) -> None:
    user = make_member("ada@vendor.example")
    link = _reset_link(client, mailbox, "ada@vendor.example")

    response = client.post(link, data=data)

    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    assert verify_password(user, PASSWORD)
    assert client.get(link).status_code == 200
    assert not is_logged_in(client)


def test_the_reset_form_needs_the_csrf_token_when_csrf_is_on(
    app: Any, client: Any, mailbox: Any, make_member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_member("ada@vendor.example")
    link = _reset_link(client, mailbox, "ada@vendor.example")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    response = client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})

    assert response.status_code == 400
    assert verify_password(user, PASSWORD)
    assert log_in(client, "ada@vendor.example").status_code == 400  # no token there either
