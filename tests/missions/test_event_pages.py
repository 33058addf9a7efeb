"""Staff create and edit events; the public event page and the events list."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from missions.page_factories import (
    BUYER,
    VENDOR,
    event_form,
    log_in,
    make_event,
    make_member,
    make_org,
    make_participant,
    reload,
)
from organizations.directory_factories import make_contact
from support import count_rows

from portal.missions import services
from portal.missions.models import MissionEvent

# --- create and edit ----------------------------------------------------------------


def test_staff_create_an_event_and_see_its_page(client: FlaskClient, staff) -> None:
    response = client.post("/events/new", data=event_form(ref="bkk-2099"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/events/bkk-2099")
    event = services.find_event("bkk-2099")
    assert event is not None
    assert event.sessions == [
        {"start": "2099-03-09T09:00", "end": "2099-03-09T10:00"},
        {"start": "2099-03-09T14:00", "end": "2099-03-09T15:00"},
    ]
    assert event.online and event.tables == 2 and event.venue == "Queen Sirikit Centre"
    page = client.get("/events/bkk-2099")
    assert page.status_code == 200
    assert "Bangkok Smart City Matchmaking" in page.text
    assert "2099-03-09 09:00-10:00" in page.text
    assert "6 slots" in page.text  # three 20-minute slots a session
    assert client.get("/events/").status_code == 200


def test_an_empty_reference_is_made_from_the_name(client: FlaskClient, staff) -> None:
    response = client.post("/events/new", data=event_form(ref=""))
    assert response.status_code == 302
    assert "/events/bangkok-smart-city-matchmaking-" in response.headers["Location"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("ref", "no spaces", "Use 1-64 letters"),
        ("time_zone", "Mars/Olympus", "IANA time zone"),
        ("sessions", "", "This field is required."),
        ("sessions", "tomorrow morning", "is not a session such as"),
        ("sessions", "2099-03-09 10:00-09:00", "ends before it starts"),
        ("sessions", "2099-03-09 09:00-11:00\n2099-03-09 10:30-12:00", "Sessions 1 and 2 overlap."),
        ("meeting_minutes", "5", "from 10 to 120 minutes"),
        ("meeting_minutes", "twenty", "Not a valid integer value."),
        ("tables", "-1", "from 0 to 1000 tables"),
        ("country", "Thailand", "Field cannot be longer than 2 characters."),
        ("country", "t1", "two-letter country code"),
        ("registration_closes", "soon", "Not a valid date value."),
        ("join_link_pattern", "meet.example.org", "starts with https://"),
        ("join_link_pattern", "javascript:alert(1)//{event}", "starts with https://"),
        ("join_link_pattern", "https://meet.example.org/{event", "A brace is not closed"),
        ("join_link_pattern", "https://meet.example.org/{room}", "Unknown placeholder(s) room"),
    ],
)
def test_bad_event_input_is_refused_beside_its_field(
    client: FlaskClient, staff, field: str, value: str, message: str
) -> None:
    before = count_rows(MissionEvent)
    response = client.post("/events/new", data=event_form(**{field: value}))
    assert response.status_code == 400
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert count_rows(MissionEvent) == before


def test_no_tables_and_no_online_is_refused(client: FlaskClient, staff) -> None:
    response = client.post("/events/new", data=event_form(tables="0", online=None))
    assert response.status_code == 400
    assert "allow online meetings" in response.text


def test_a_reference_taken_by_another_event_is_refused(client: FlaskClient, staff) -> None:
    make_event(ref="taken")
    response = client.post("/events/new", data=event_form(ref="taken"))
    assert response.status_code == 400
    assert "already has the reference" in response.text


def test_staff_edit_an_event(client: FlaskClient, staff) -> None:
    event = make_event(ref="edit-me")
    form = client.get("/events/edit-me/edit")
    assert form.status_code == 200 and "2099-03-09 09:00-10:00" in form.text
    response = client.post(
        "/events/edit-me/edit",
        data=event_form(ref="edit-me", name="Renamed", sessions="2099-03-10 09:00-12:00"),
    )
    assert response.status_code == 302
    event = reload(event)
    assert event.name == "Renamed"
    assert event.sessions == [{"start": "2099-03-10T09:00", "end": "2099-03-10T12:00"}]


def test_an_edit_with_a_join_link_pattern_that_cannot_work_saves_nothing(
    client: FlaskClient, staff
) -> None:
    event = make_event(ref="links", join_link_pattern="https://meet.example.org/{meeting}")
    response = client.post(
        "/events/links/edit",
        data=event_form(ref="links", name="Renamed", join_link_pattern="https://m.example/{id}"),
    )
    assert response.status_code == 400
    assert 'id="join_link_pattern-error"' in response.text
    assert "Unknown placeholder(s) id: use {event}, {meeting} or {secret}." in response.text
    event = reload(event)
    assert (event.name, event.join_link_pattern) == (
        "Matchmaking",
        "https://meet.example.org/{meeting}",
    )


def test_an_edit_may_not_drop_a_session_someone_attends(client: FlaskClient, staff) -> None:
    event = make_event(ref="kept")
    make_participant(event, make_org(VENDOR, "Acme Signals"), attends=[1])
    response = client.post(
        "/events/kept/edit", data=event_form(ref="kept", sessions="2099-03-09 09:00-10:00")
    )
    assert response.status_code == 400
    assert "Acme Signals attends session 2" in response.text
    assert len(reload(event).sessions) == 2


def test_an_edit_may_not_forbid_online_with_online_participants(client: FlaskClient, staff) -> None:
    event = make_event(ref="online")
    make_participant(event, make_org(VENDOR, "Remote Co"), mode="online")
    response = client.post("/events/online/edit", data=event_form(ref="online", online=None))
    assert response.status_code == 400
    assert "Remote Co takes part online" in response.text
    assert reload(event).online


@pytest.mark.parametrize("who", ["anonymous", "vendor"])
def test_only_staff_create_and_edit_events(client: FlaskClient, app: Flask, who: str) -> None:
    make_event(ref="guarded")
    if who == "vendor":
        log_in(client, make_member(make_org(VENDOR)))
        assert client.get("/events/new").status_code == 403
        assert client.post("/events/new", data=event_form()).status_code == 403
        assert client.post("/events/guarded/edit", data=event_form()).status_code == 403
    else:
        assert client.get("/events/new").status_code == 302  # to the login page
        assert client.post("/events/guarded/edit", data=event_form()).status_code == 302
    assert reload(services.find_event("guarded")).name == "Matchmaking"


def test_unknown_events_are_404(client: FlaskClient, staff) -> None:
    for path in ("/events/nope", "/events/nope/edit", "/events/nope/grid", "/events/nope/schedule"):
        assert client.get(path).status_code == 404, path


# --- the public page ----------------------------------------------------------------


@pytest.fixture
def crowd(app: Flask) -> MissionEvent:
    event = make_event(ref="crowd")
    acme = make_org(VENDOR, "Acme Traffic", sectors=["mobility"], summary="Adaptive signals")
    make_participant(event, acme, offers="Signal retiming", mode="on-site")
    aqua = make_org(VENDOR, "Aqua Sensors", sectors=["water"])
    make_participant(event, aqua, mode="online")
    city = make_org(BUYER, "Da Nang DOST", country="VN", sectors=["mobility"])
    make_participant(event, city, looks_for="Bridge congestion")
    hidden = make_org(VENDOR, "Unverified Lamps", verified=False)
    make_participant(event, hidden)
    make_contact(acme, name="Jane Roe", email="jane@acme.example")
    return event


def _names(html: str) -> set[str]:
    return {
        name
        for name in ("Acme Traffic", "Aqua Sensors", "Da Nang DOST", "Unverified Lamps")
        if name in html
    }


def test_the_page_lists_verified_participants_never_contacts(
    client: FlaskClient, crowd: MissionEvent
) -> None:
    page = client.get("/events/crowd")
    assert page.status_code == 200
    assert _names(page.text) == {"Acme Traffic", "Aqua Sensors", "Da Nang DOST"}
    assert "Signal retiming" in page.text and "Bridge congestion" in page.text
    assert "jane@acme.example" not in page.text and "Jane Roe" not in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=buyer", {"Da Nang DOST"}),
        ("kind=vendor", {"Acme Traffic", "Aqua Sensors"}),
        ("country=VN", {"Da Nang DOST"}),
        ("sector=water", {"Aqua Sensors"}),
        ("mode=online", {"Aqua Sensors"}),
        ("mode=on-site", {"Acme Traffic", "Da Nang DOST"}),
        ("q=signal", {"Acme Traffic"}),
        ("q=bridge", {"Da Nang DOST"}),
        ("q=lamps", set()),
        ("sector=mobility&kind=vendor", {"Acme Traffic"}),
    ],
)
def test_filters_and_search(
    client: FlaskClient, crowd: MissionEvent, query: str, expected: set[str]
) -> None:
    page = client.get(f"/events/crowd?{query}")
    assert page.status_code == 200
    listed = page.text.split("<h2>Participants</h2>", 1)[1]
    assert _names(listed) == expected


@pytest.mark.parametrize("query", ["kind=robot", "country=XX", "sector=space", "mode=astral"])
def test_bad_filters_are_ignored_with_a_word(
    client: FlaskClient, crowd: MissionEvent, query: str
) -> None:
    page = client.get(f"/events/crowd?{query}")
    assert page.status_code == 200
    assert "flash-warning" in page.text
    assert _names(page.text) == {"Acme Traffic", "Aqua Sensors", "Da Nang DOST"}


def test_a_participant_sees_its_registration_on_the_page(
    client: FlaskClient, crowd: MissionEvent
) -> None:
    acme = next(p for p in crowd.participants if p.organization.name == "Acme Traffic")
    log_in(client, make_member(acme.organization))
    page = client.get("/events/crowd")
    assert "Your registration" in page.text
    assert f"/events/crowd/registrations/{acme.organization.ref}" in page.text
