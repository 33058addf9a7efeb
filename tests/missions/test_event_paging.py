"""The event page's participants and the request lists come a page at a time
(``PORTAL_PAGE_SIZE``), their links keeping the filters; a bad page number or filter is
ignored, never an error."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from missions.page_factories import (
    BUYER,
    VENDOR,
    log_in,
    make_event,
    make_member,
    make_org,
    make_participant,
    make_request,
    staff_user,
)

from portal.db import utc_now
from portal.extensions import db
from portal.missions.models import MissionEvent, Participant, RequestStatus


@pytest.fixture(autouse=True)
def two_a_page(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 2)


def _names(text: str) -> list[str]:
    """The participants' names on the event page, in order."""
    cards = text.split('<ul class="cards participants">', 1)[-1].split("</ul>", 1)[0]
    return re.findall(r"<h3><a [^>]*>([^<]+)</a></h3>", cards)


def _links(text: str) -> dict[str, str]:
    """The previous and next links by rel, their &amp; read back."""
    return {
        rel: href.replace("&amp;", "&")
        for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', text)
    }


@pytest.fixture
def crowd(app: Flask) -> MissionEvent:
    """Five verified vendors (one online) and two buyers, one of them not verified."""
    event = make_event(ref="crowd")
    for name in ("Alpha", "Bravo", "Charlie", "Delta"):
        make_participant(event, make_org(VENDOR, f"{name} Vendor"))
    make_participant(event, make_org(VENDOR, "Echo Vendor"), mode="online")
    make_participant(event, make_org(BUYER, "Hotel Buyer"))
    make_participant(event, make_org(BUYER, "Pending Buyer", verified=False))
    return event


def test_the_participants_come_two_a_page(client: FlaskClient, crowd: MissionEvent) -> None:
    first = client.get("/events/crowd")
    assert _names(first.text) == ["Alpha Vendor", "Bravo Vendor"]
    assert "Page 1 of 3 · 6 in all" in first.text  # the unverified buyer is not public
    assert _links(first.text) == {"next": "/events/crowd?page=2"}
    last = client.get("/events/crowd?page=3")
    assert _names(last.text) == ["Echo Vendor", "Hotel Buyer"]
    assert _links(last.text) == {"prev": "/events/crowd?page=2"}


def test_page_links_keep_the_filters(client: FlaskClient, crowd: MissionEvent) -> None:
    page = client.get("/events/crowd?kind=vendor&mode=on-site&q=vendor&page=2")
    assert _names(page.text) == ["Charlie Vendor", "Delta Vendor"]
    assert "Page 2 of 2 · 4 in all" in page.text
    assert _links(page.text) == {"prev": "/events/crowd?q=vendor&kind=vendor&mode=on-site&page=1"}


def test_a_bad_filter_is_not_carried_into_the_links(
    client: FlaskClient, crowd: MissionEvent
) -> None:
    page = client.get("/events/crowd?kind=robot&country=ZZ")
    assert page.status_code == 200
    assert "Kind is vendor or buyer" in page.text
    assert _links(page.text) == {"next": "/events/crowd?page=2"}


@pytest.mark.parametrize("page", ["abc", "-1", "0", "1.5", "", "1e3", "²", "٣", " 2 x"])
def test_a_page_number_that_is_not_one_is_the_first_page(
    client: FlaskClient, crowd: MissionEvent, page: str
) -> None:
    response = client.get("/events/crowd", query_string={"page": page})
    assert response.status_code == 200
    assert _names(response.text) == ["Alpha Vendor", "Bravo Vendor"]


def test_a_nul_in_the_page_number_is_refused(client: FlaskClient, crowd: MissionEvent) -> None:
    assert client.get("/events/crowd", query_string={"page": "2\x00"}).status_code == 400


@pytest.mark.parametrize("page", ["4", "99999", "9" * 40])
def test_a_page_past_the_end_says_so(client: FlaskClient, crowd: MissionEvent, page: str) -> None:
    response = client.get(f"/events/crowd?page={page}&kind=vendor")
    assert response.status_code == 200
    assert "There is no page" in response.text and "5 in all" in response.text
    assert 'href="/events/crowd?kind=vendor">First page</a>' in response.text


def test_query_arguments_url_for_reserves_are_not_carried(
    client: FlaskClient, crowd: MissionEvent
) -> None:
    """Links are built from the filters the page understood, never from the raw query
    string (``_scheme`` alone would make url_for fail)."""
    response = client.get("/events/crowd?_scheme=ftp&_anchor=x&_external=1&ref=other")
    assert response.status_code == 200
    assert _links(response.text) == {"next": "/events/crowd?page=2"}


# --- the request lists ------------------------------------------------------------------


@dataclass
class Asked:
    event: MissionEvent
    hub: Participant
    others: list[Participant]


@pytest.fixture
def asked(app: Flask) -> Asked:
    """A buyer asked by three vendors (two pending, one declined, oldest first), asking
    two more itself."""
    event = make_event(ref="asked")
    hub = make_participant(event, make_org(BUYER, "Hub City"))
    others = [make_participant(event, make_org(VENDOR, f"Vendor {letter}")) for letter in "ABCDE"]
    now = utc_now()
    for minutes, (sender, status) in enumerate(
        [
            (others[0], RequestStatus.PENDING),
            (others[1], RequestStatus.DECLINED),
            (others[2], RequestStatus.PENDING),
        ]
    ):
        make_request(sender, hub, status, created_at=now + dt.timedelta(minutes=minutes))
    for minutes, target in enumerate(others[3:], start=10):
        make_request(hub, target, created_at=now + dt.timedelta(minutes=minutes))
    db.session.commit()
    return Asked(event, hub, others)


def _section(text: str, heading: str) -> str:
    return text.split(f"<h2>{heading}</h2>", 1)[1].split("</section>", 1)[0]


def _asked_names(text: str) -> list[str]:
    return re.findall(r"<strong>([^<]+)</strong>", _section(text, "Asked of you"))


def test_a_member_s_lists_page_on_their_own(client: FlaskClient, asked: Asked) -> None:
    log_in(client, make_member(asked.hub.organization))
    first = client.get("/events/asked/requests")
    assert first.status_code == 200
    assert _asked_names(first.text) == ["Vendor C", "Vendor B"]  # newest first
    assert "/events/asked/requests?received=2" in first.text
    second = client.get("/events/asked/requests?received=2&sent=1")
    assert _asked_names(second.text) == ["Vendor A"]
    # The other list is still on its first page; its own links keep this list's page.
    mine = _section(second.text, "Your requests")
    assert "Vendor E" in mine and "Vendor D" in mine


def test_the_status_filter_narrows_every_list_and_stays_in_the_links(
    client: FlaskClient, asked: Asked
) -> None:
    log_in(client, make_member(asked.hub.organization))
    page = client.get("/events/asked/requests?status=pending")
    assert _asked_names(page.text) == ["Vendor C", "Vendor A"]
    assert "received=2" not in page.text  # two pending: one page
    declined = client.get("/events/asked/requests?status=declined")
    assert _asked_names(declined.text) == ["Vendor B"]
    assert "None with this status." in _section(declined.text, "Your requests")


def test_staff_page_through_every_request(client: FlaskClient, asked: Asked) -> None:
    log_in(client, staff_user())
    first = client.get("/events/asked/requests?status=pending")
    assert first.status_code == 200
    assert "/events/asked/requests?status=pending&amp;all=2" in first.text
    second = client.get("/events/asked/requests?status=pending&all=2")
    every = _section(second.text, "Every request")
    assert "Page 2 of 2 · 4 in all" in every


@pytest.mark.parametrize(
    "query",
    [
        "status=robot",
        "status=%E2%80%AE",
        "received=abc",
        "sent=-5",
        "all=99999999999999999999",
        "received=0&sent=1.5&all=",
    ],
)
def test_bad_list_arguments_are_ignored(client: FlaskClient, asked: Asked, query: str) -> None:
    log_in(client, make_member(asked.hub.organization))
    response = client.get(f"/events/asked/requests?{query}")
    assert response.status_code == 200
    log_in(client, staff_user())
    assert client.get(f"/events/asked/requests?{query}").status_code == 200


def test_a_bad_status_is_ignored_with_a_warning(client: FlaskClient, asked: Asked) -> None:
    log_in(client, make_member(asked.hub.organization))
    page = client.get("/events/asked/requests?status=robot")
    assert "There is no status “robot”" in page.text
    assert _asked_names(page.text) == ["Vendor C", "Vendor B"]
