"""Registering for an event: members their own organization until the deadline, staff
any organization at any time; editing and cancelling a registration."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    reload,
    staff_user,
)
from support import count_rows

from portal.missions import registration as reg
from portal.missions.models import MeetingRequest, MissionEvent, Participant
from portal.organizations.models import Organization

PAST = dt.date(2000, 1, 1)


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "attends": ["0", "1"],
        "mode": "on-site",
        "max_meetings": "6",
        "offers": "Adaptive signal control",
        "looks_for": "Cities with congested bridges",
        "time_zone": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def event(app: Flask) -> MissionEvent:
    return make_event(ref="reg")


@pytest.fixture
def vendor(app: Flask) -> Organization:
    return make_org(VENDOR, "Acme Traffic")


def _participant(event: MissionEvent, organization: Organization) -> Participant | None:
    return reg.find_participant(event, organization.id)


def test_a_member_registers_its_organization(
    client: FlaskClient, event: MissionEvent, vendor: Organization
) -> None:
    log_in(client, make_member(vendor))
    assert client.get("/events/reg/register").status_code == 200
    response = client.post("/events/reg/register", data=_form(attends=["1"]))
    assert response.status_code == 302
    participant = _participant(event, vendor)
    assert participant is not None
    assert participant.attends == [1] and participant.max_meetings == 6
    assert participant.mode == "on-site" and participant.offers == "Adaptive signal control"
    page = client.get("/events/reg")
    assert "Your registration" in page.text
    # Registering again leads to the registration.
    again = client.get("/events/reg/register")
    assert again.status_code == 302 and f"/registrations/{vendor.ref}" in again.headers["Location"]


def test_every_session_chosen_is_stored_as_all(
    client: FlaskClient, event: MissionEvent, vendor: Organization
) -> None:
    log_in(client, make_member(vendor))
    client.post("/events/reg/register", data=_form())
    assert _participant(event, vendor).attends is None


def test_online_with_an_own_time_zone(
    client: FlaskClient, event: MissionEvent, vendor: Organization
) -> None:
    log_in(client, make_member(vendor))
    response = client.post(
        "/events/reg/register", data=_form(mode="online", time_zone="America/Denver")
    )
    assert response.status_code == 302
    participant = _participant(event, vendor)
    assert participant.online and participant.time_zone == "America/Denver"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"attends": ["7"]}, "attends", "is not a valid choice"),
        ({"attends": ["x"]}, "attends", "Invalid choice(s)"),
        ({"mode": "teleport"}, "mode", "Not a valid choice"),
        ({"mode": None}, "mode", "Choose on site or online."),
        ({"max_meetings": "0"}, "max_meetings", "from 1 to 100"),
        ({"max_meetings": "many"}, "max_meetings", "Not a valid integer value."),
        ({"offers": "x" * 2001}, "offers", "longer than 2000"),
        ({"looks_for": "x" * 2001}, "looks_for", "longer than 2000"),
        ({"mode": "online", "time_zone": "Moon/Base"}, "time_zone", "IANA time zone"),
    ],
)
def test_bad_registration_input_is_refused_beside_its_field(
    client: FlaskClient,
    event: MissionEvent,
    vendor: Organization,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    log_in(client, make_member(vendor))
    response = client.post("/events/reg/register", data=_form(**overrides))
    assert response.status_code == 400
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert count_rows(Participant) == 0


def test_online_is_refused_where_the_event_has_none(client: FlaskClient, vendor) -> None:
    make_event(ref="onsite", online=False)
    log_in(client, make_member(vendor))
    response = client.post("/events/onsite/register", data=_form(mode="online"))
    assert response.status_code == 400
    assert "no online meetings" in response.text
    assert count_rows(Participant) == 0


def test_registration_closes_after_the_deadline_for_members(client: FlaskClient, vendor) -> None:
    make_event(ref="late", registration_closes=PAST)
    log_in(client, make_member(vendor))
    assert client.get("/events/late/register").status_code == 403
    response = client.post("/events/late/register", data=_form())
    assert response.status_code == 403
    assert "closed" in response.text
    assert count_rows(Participant) == 0


def test_the_deadline_day_is_the_event_s_local_day(app: Flask) -> None:
    event = make_event(time_zone="Asia/Bangkok", registration_closes=dt.date(2030, 5, 1))
    # 18:00 UTC on 1 May is already 2 May in Bangkok.
    assert reg.registration_open(event, dt.datetime(2030, 5, 1, 16, 0, tzinfo=dt.UTC))
    assert not reg.registration_open(event, dt.datetime(2030, 5, 1, 18, 0, tzinfo=dt.UTC))


def test_staff_register_any_organization_after_the_deadline(client: FlaskClient, vendor) -> None:
    event = make_event(ref="late", registration_closes=PAST)
    pending = make_org(BUYER, "Pending City", verified=False)
    log_in(client, staff_user())
    page = client.get(f"/events/late/register?organization={pending.ref}")
    assert page.status_code == 200 and pending.ref in page.text
    response = client.post("/events/late/register", data=_form(organization=pending.ref))
    assert response.status_code == 302
    assert _participant(event, pending) is not None


def test_staff_must_name_an_existing_organization(client: FlaskClient, event) -> None:
    log_in(client, staff_user())
    response = client.post("/events/reg/register", data=_form(organization="ghost"))
    assert response.status_code == 400
    assert "There is no organization “ghost”; find it by name." in response.text
    response = client.post("/events/reg/register", data=_form())
    assert response.status_code == 400
    assert "Choose the organization to register: find it by name." in response.text
    assert client.get("/events/reg/register?organization=ghost").status_code == 400
    assert count_rows(Participant) == 0


# --- staff pick the organization ---------------------------------------------------------


def test_staff_first_find_the_organization_by_name(client: FlaskClient, event, vendor) -> None:
    log_in(client, staff_user())
    page = client.get("/events/reg/register")
    assert page.status_code == 200
    assert "Which organization?" in page.text
    assert "Sessions you attend" not in page.text  # the form comes once one is chosen
    make_org(VENDOR, "Acme Pending", verified=False)
    found = client.get("/events/reg/register?find=ACME")
    assert found.status_code == 200
    assert f'href="/events/reg/register?organization={vendor.ref}">Register Acme Traffic</a>' in (
        found.text
    )
    assert "Acme Pending" not in found.text  # a search of verified organizations
    chosen = client.get(f"/events/reg/register?organization={vendor.ref}")
    assert chosen.status_code == 200
    assert "For Acme Traffic" in chosen.text and "Sessions you attend" in chosen.text
    assert f'name="organization" type="hidden" value="{vendor.ref}"' in chosen.text
    response = client.post("/events/reg/register", data=_form(organization=vendor.ref))
    assert response.status_code == 302
    assert _participant(event, vendor) is not None


def test_the_search_shows_who_is_registered_already(client: FlaskClient, event, vendor) -> None:
    make_participant(event, vendor)
    make_org(VENDOR, "Acme Lighting")
    log_in(client, staff_user())
    found = client.get("/events/reg/register?find=acme")
    assert f'href="/events/reg/registrations/{vendor.ref}">see its registration</a>' in found.text
    assert "Register Acme Lighting" in found.text


def test_every_word_of_the_search_must_be_in_the_name(app: Flask, event, vendor) -> None:
    make_org(VENDOR, "Traffic Lights Ltd")
    assert [c.organization.name for c in reg.find_organizations(event, "traffic").candidates] == [
        "Acme Traffic",
        "Traffic Lights Ltd",
    ]
    found = reg.find_organizations(event, "  traffic   ACME ")
    assert [c.organization.name for c in found.candidates] == ["Acme Traffic"]
    assert found.text == "traffic ACME"
    assert reg.find_organizations(event, "   ").candidates == []


def test_a_search_says_when_there_are_more(app: Flask, event) -> None:
    for number in range(4):
        make_org(BUYER, f"Water Board {number}")
    found = reg.find_organizations(event, "water board", limit=3)
    assert len(found.candidates) == 3 and found.more
    assert not reg.find_organizations(event, "water board", limit=4).more


@pytest.mark.parametrize(
    "text", ["%", "_", "100%_x", "'; drop table organizations; --", "x" * 5000, "\\", "☃"]
)
def test_odd_searches_find_nothing_and_fail_nothing(
    client: FlaskClient, event, vendor, text: str
) -> None:
    log_in(client, staff_user())
    response = client.get("/events/reg/register", query_string={"find": text})
    assert response.status_code == 200
    assert "Register Acme Traffic" not in response.text


def test_members_register_only_their_own_whatever_the_query(
    client: FlaskClient, event, vendor
) -> None:
    other = make_org(VENDOR, "Other Co")
    log_in(client, make_member(vendor))
    page = client.get(f"/events/reg/register?find=other&organization={other.ref}")
    assert page.status_code == 200
    assert "Which organization?" not in page.text and "Other Co" not in page.text
    client.post("/events/reg/register", data=_form(organization=other.ref))
    assert _participant(event, vendor) is not None
    assert _participant(event, other) is None


def test_an_unverified_organization_may_not_register_itself(client: FlaskClient, event) -> None:
    pending = make_org(VENDOR, "Pending Co", verified=False)
    log_in(client, make_member(pending))
    assert client.post("/events/reg/register", data=_form()).status_code == 403
    assert count_rows(Participant) == 0


def test_anonymous_visitors_are_sent_to_log_in(client: FlaskClient, event) -> None:
    response = client.post("/events/reg/register", data=_form())
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_edit_and_cancel_a_registration(
    client: FlaskClient, event: MissionEvent, vendor: Organization
) -> None:
    participant = make_participant(event, vendor)
    city = make_participant(event, make_org(BUYER, "Hue City"))
    make_request(participant, city)
    log_in(client, make_member(vendor))
    url = f"/events/reg/registrations/{vendor.ref}"
    assert client.get(url).status_code == 200
    response = client.post(url, data=_form(max_meetings="3", attends=["0"]))
    assert response.status_code == 302
    participant = reload(participant)
    assert participant.max_meetings == 3 and participant.attends == [0]
    bad = client.post(url, data=_form(max_meetings="500"))
    assert bad.status_code == 400 and reload(participant).max_meetings == 3
    response = client.post(f"{url}/cancel")
    assert response.status_code == 302
    assert _participant(event, vendor) is None
    assert count_rows(MeetingRequest) == 0  # its requests went with it


def test_others_may_not_edit_or_cancel_a_registration(
    client: FlaskClient, event: MissionEvent, vendor: Organization
) -> None:
    make_participant(event, vendor, max_meetings=4)
    log_in(client, make_member(make_org(VENDOR, "Rival")))
    url = f"/events/reg/registrations/{vendor.ref}"
    assert client.get(url).status_code == 403
    assert client.post(url, data=_form(max_meetings="1")).status_code == 403
    assert client.post(f"{url}/cancel").status_code == 403
    assert _participant(event, vendor).max_meetings == 4
    assert client.get("/events/reg/registrations/ghost").status_code == 404


def test_members_may_not_edit_after_the_deadline(client: FlaskClient, vendor) -> None:
    event = make_event(ref="late", registration_closes=PAST)
    make_participant(event, vendor, max_meetings=4)
    log_in(client, make_member(vendor))
    url = f"/events/late/registrations/{vendor.ref}"
    assert client.post(url, data=_form(max_meetings="1")).status_code == 403
    assert client.post(f"{url}/cancel").status_code == 403
    assert _participant(event, vendor).max_meetings == 4
