"""Why a saved search found a need, in the reader's language: the worker finds matches
with no reader, so it keeps each reason as what matched (words, facets, the budgets), and
the search's page and the alert mail word it for whoever reads them. Without a request
the words are English, as before."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from follows.follow_factories import Scene, deliver, make_scene
from organizations.directory_factories import log_in, make_need

from portal.db import utc_now
from portal.extensions import db
from portal.follows import alerts
from portal.follows import services as follows
from portal.follows.models import SavedSearch, SavedSearchMatch
from portal.follows.services import SearchCriteria

BUDGET_VI = "ngân sách US$200.000 đến US$500.000 nằm trong khoảng US$100.000 đến US$300.000"
BUDGET_EN = "budget US$200,000 to US$500,000 within US$100,000 to US$300,000"


def _speak(client: FlaskClient, locale: str) -> None:
    """The language switch: a member's own setting changes with it."""
    assert client.post("/language", data={"locale": locale, "next": "/"}).status_code == 302


@pytest.fixture
def scene(app: Flask) -> Scene:
    return make_scene()


def _search_and_match(scene: Scene) -> tuple[SavedSearch, SavedSearchMatch]:
    """A saved search with words, a sector and a budget range, and the need the worker's
    pass finds for it (it mails the member as it goes)."""
    search = follows.save_search(
        scene.member,
        name="Sensors",
        criteria=SearchCriteria(
            words="flood sensors", sector="water", budget_min=100_000, budget_max=300_000
        ),
        now=utc_now() - dt.timedelta(hours=1),
    )
    db.session.commit()
    make_need(
        scene.buyer,
        "Flood sensors for the Cu De river",
        description="Sensors on bridges.",
        sectors=["water"],
        budget_min=200_000,
        budget_max=500_000,
    )
    assert alerts.run_saved_search_alerts(utc_now()).matched == 1
    deliver()
    [match] = follows.matches_of(search)
    return search, match


def test_a_vietnamese_vendor_reads_why_a_need_matched_in_vietnamese(
    client: FlaskClient, scene: Scene, mailbox
) -> None:
    log_in(client, scene.member)
    _speak(client, "vi")  # the member's own setting: the alert mail follows it
    search, match = _search_and_match(scene)

    # The row keeps what matched, not a sentence in the worker's language.
    assert json.loads(match.reasons) == [
        ["title", ["flood", "sensors"]],
        ["sector", "water"],
        ["budget", [200_000, 500_000, 100_000, 300_000]],
    ]

    page = client.get(f"/saved-searches/{search.id}/edit").text
    assert f"từ trong tiêu đề: flood, sensors; lĩnh vực: Nước; {BUDGET_VI}" in page
    assert "within" not in page and "words in the title" not in page

    [message] = mailbox.to(scene.member.email)
    assert BUDGET_VI in mailbox.body(message)


def test_without_a_request_the_reasons_are_english(
    client: FlaskClient, scene: Scene, mailbox
) -> None:
    """An English member's mail and page read as before; so does ``match_need``, which
    words the reasons in the current language (English outside a request)."""
    search, match = _search_and_match(scene)

    expected = f"words in the title: flood, sensors; sector: Water; {BUDGET_EN}"
    [message] = mailbox.to(scene.member.email)
    assert expected in mailbox.body(message)
    log_in(client, scene.member)
    assert expected in client.get(f"/saved-searches/{search.id}/edit").text
    assert follows.match_need(SearchCriteria.of(search), match.need) == [
        "words in the title: flood, sensors",
        "sector: Water",
        BUDGET_EN,
    ]


def test_the_list_of_saved_searches_names_notice_and_funding_in_vietnamese(
    client: FlaskClient, scene: Scene
) -> None:
    follows.save_search(
        scene.member, name="Tenders", criteria=SearchCriteria(notice="rfp", funding_source="adb")
    )
    db.session.commit()
    log_in(client, scene.member)
    _speak(client, "vi")

    listing = client.get("/saved-searches").text
    assert "Yêu cầu đề xuất (đấu thầu); Ngân hàng Phát triển Châu Á" in listing
    assert "Request for proposals" not in listing


def test_a_match_stored_before_the_codes_is_shown_as_written() -> None:
    assert follows.read_reasons("words in the title: flood\nsector: Water") == [
        "words in the title: flood",
        "sector: Water",
    ]
