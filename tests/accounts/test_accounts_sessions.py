"""Sessions live on the server: logout, expiry and a password change end them, whatever
copy of a cookie someone kept (a login session row per login, checked on every request)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from account_helpers import is_logged_in, log_in

from portal.accounts.models import LoginSession
from portal.accounts.services import remove_old_sessions
from portal.db import utc_now
from portal.extensions import db


def _copy(app: Any, client: Any, *names: str) -> Any:
    """A second browser holding copies of ``client``'s cookies ``names`` (as a thief
    with a captured cookie would)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief


def test_logout_ends_the_session_for_every_copy_of_its_cookies(
    app: Any, client: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example", remember="y")
    session_copy = _copy(app, client, "session")
    remember_copy = _copy(app, client, "remember_token")
    assert is_logged_in(session_copy) and is_logged_in(remember_copy)

    assert client.post("/logout").status_code == 302

    assert not is_logged_in(client)
    assert not is_logged_in(session_copy)
    assert not is_logged_in(remember_copy)  # the remember-me cookie no longer logs in
    assert count_open_sessions() == 0


def test_logging_out_on_one_device_leaves_the_others_logged_in(app: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, "ada@vendor.example")
    log_in(phone, "ada@vendor.example")

    laptop.post("/logout")

    assert not is_logged_in(laptop)
    assert is_logged_in(phone)


def test_a_session_ends_when_it_expires_even_with_the_browser_open(
    client: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")
    [login] = db.session.scalars(sa.select(LoginSession)).all()
    assert login.expires_at - login.created_at == dt.timedelta(hours=12)  # no remember-me

    login.expires_at = utc_now() - dt.timedelta(seconds=1)
    db.session.commit()

    assert not is_logged_in(client)


def test_remember_me_lasts_thirty_days_not_a_year(client: Any, make_member: Any) -> None:
    make_member("ada@vendor.example")

    response = log_in(client, "ada@vendor.example", remember="y")

    [login] = db.session.scalars(sa.select(LoginSession)).all()
    assert login.remember and login.expires_at - login.created_at == dt.timedelta(days=30)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember")]
    expires = dt.datetime.strptime(
        cookie.split("Expires=")[1].split(";")[0], "%a, %d %b %Y %H:%M:%S GMT"
    )
    assert abs(expires.replace(tzinfo=dt.UTC) - login.expires_at) < dt.timedelta(minutes=1)


def test_a_deactivated_account_is_logged_out_at_its_next_request(
    client: Any, make_member: Any
) -> None:
    user = make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")

    user.active = False
    db.session.commit()

    assert not is_logged_in(client)


def test_old_sessions_are_forgotten_a_day_after_they_end(
    app: Any, client: Any, make_member: Any
) -> None:
    make_member("ada@vendor.example")
    log_in(client, "ada@vendor.example")
    client.post("/logout")
    log_in(client, "ada@vendor.example")

    assert remove_old_sessions(utc_now()) == 0  # ended a moment ago: kept for now
    assert remove_old_sessions(utc_now() + dt.timedelta(days=1, hours=1)) == 1
    assert is_logged_in(client)  # the open one stays


def count_open_sessions() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LoginSession)
            .where(LoginSession.ended_at.is_(None))
        )
        or 0
    )
