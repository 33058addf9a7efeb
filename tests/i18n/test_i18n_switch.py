"""The language switch: CSRF-checked, sends the browser back on this site only, and a
language we do not ship is a 400, never a 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_org
from separate_app import separate_app

from portal.extensions import db


def test_the_switch_remembers_the_choice_and_goes_back(client: FlaskClient) -> None:
    response = client.post("/language", data={"locale": "th", "next": "/needs?page=2"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/needs?page=2"
    with client.session_transaction() as session:
        assert session["locale"] == "th"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_switch_never_sends_the_browser_elsewhere(client: FlaskClient, target: str) -> None:
    response = client.post("/language", data={"locale": "vi", "next": target})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("code", ["de", "", "EN", "th-TH", "x" * 5000, "en\x00"])
def test_a_language_we_do_not_ship_is_a_clear_400(client: FlaskClient, code: str) -> None:
    response = client.post("/language", data={"locale": code, "next": "/"})

    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "locale" not in session


def test_no_language_at_all_is_a_400_and_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.post("/language").status_code == 400
    assert client.get("/language").status_code == 405


def test_a_members_switch_changes_their_setting(client: FlaskClient) -> None:
    member = make_member(make_org())
    log_in(client, member)

    client.post("/language", data={"locale": "fil", "next": "/account"})

    db.session.refresh(member)
    assert member.locale == "fil"


def test_the_settings_page_saves_and_clears_the_language(client: FlaskClient) -> None:
    member = make_member(make_org())
    log_in(client, member)
    form = {"profile-full_name": "Ada", "profile-timezone": "Asia/Bangkok"}

    assert client.post("/account", data={**form, "profile-locale": "th"}).status_code == 302
    db.session.refresh(member)
    assert member.locale == "th"
    page = client.get("/account").text
    assert re.search(r'<option selected value="th">|<option value="th" selected', page)

    assert client.post("/account", data={**form, "profile-locale": ""}).status_code == 302
    db.session.refresh(member)
    assert member.locale is None

    assert client.post("/account", data={**form, "profile-locale": "de"}).status_code == 400
    db.session.refresh(member)
    assert member.locale is None


def test_the_switch_needs_the_csrf_token(_app: Flask, tmp_path: Path) -> None:
    with separate_app(_app, tmp_path / "index", WTF_CSRF_ENABLED=True) as csrf_app:
        browser = csrf_app.test_client()
        page = browser.get("/login").text
        refused = browser.post("/language", data={"locale": "th", "next": "/login"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "the switch carries no CSRF token"
        accepted = browser.post(
            "/language", data={"locale": "th", "next": "/login", "csrf_token": token.group(1)}
        )

    assert refused.status_code == 400
    assert accepted.status_code == 302
    assert accepted.headers["Location"] == "/login"
