"""Which language a page speaks: the member's setting, the visitor's choice, the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from i18n_helpers import thai_catalog
from organizations.directory_factories import log_in, make_member, make_org

from portal.extensions import db
from portal.i18n.negotiation import browser_locale

SHIPPED = ("vi", "th", "id", "ms", "fil")


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', page)
    assert match, "no <html lang> on the page"
    return match.group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ([("th", 1.0)], "th"),
        ([("fil-PH", 1.0), ("en", 0.5)], "fil"),
        ([("tl", 1.0)], "fil"),  # browsers offer Tagalog for Filipino
        ([("de-DE", 1.0), ("ms-MY", 0.8), ("en", 0.5)], "ms"),
        ([("en", 0.3), ("vi", 0.9)], "vi"),  # quality wins over order
        ([("id", 0.0), ("de", 1.0)], None),  # q=0 means "not this one"
        ([("de", 1.0), ("zh-Hant", 0.9)], None),
        ([], None),
    ],
)
def test_the_browsers_best_shipped_language_is_chosen(
    header: list[tuple[str, float]], expected: str | None
) -> None:
    assert browser_locale(header) == expected


@pytest.mark.parametrize("code", SHIPPED)
def test_login_comes_in_each_shipped_language_by_accept_language(
    client: FlaskClient, code: str
) -> None:
    response = client.get("/login", headers={"Accept-Language": f"{code};q=0.9, en;q=0.1"})

    assert response.status_code == 200
    assert html_lang(response.text) == code
    assert f'option value="{code}" lang="{code}" selected' in response.text


def test_login_is_translated_when_the_catalog_has_it(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    with thai_catalog(app, tmp_path):
        thai = client.get("/login", headers={"Accept-Language": "th-TH,th;q=0.9"})
        english = client.get("/login", headers={"Accept-Language": "en-US"})

    assert "<h1>เข้าสู่ระบบ</h1>" in thai.text
    assert "<h1>Log in</h1>" in english.text


def test_an_unknown_or_missing_language_falls_back_to_english(client: FlaskClient) -> None:
    for header in ("de-DE,fr;q=0.8", "", "*", "x-klingon;q=1, ;;q=abc"):
        response = client.get("/login", headers={"Accept-Language": header})
        assert response.status_code == 200
        assert html_lang(response.text) == "en", header


def test_the_members_setting_beats_the_browser(client: FlaskClient) -> None:
    member = make_member(make_org())
    member.locale = "vi"
    db.session.commit()
    log_in(client, member)

    response = client.get("/account", headers={"Accept-Language": "th"})

    assert html_lang(response.text) == "vi"


def test_a_member_with_no_setting_follows_the_browser(client: FlaskClient) -> None:
    log_in(client, make_member(make_org()))

    assert html_lang(client.get("/account", headers={"Accept-Language": "id"}).text) == "id"


def test_a_visitors_choice_beats_the_browser(client: FlaskClient) -> None:
    client.post("/language", data={"locale": "ms", "next": "/login"})

    response = client.get("/login", headers={"Accept-Language": "th"})

    assert html_lang(response.text) == "ms"


def test_error_pages_speak_the_language_too(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept-Language": "fil"})

    assert response.status_code == 404
    assert html_lang(response.text) == "fil"
