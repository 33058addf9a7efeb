"""Meeting requests: send, must-meet, accept or decline, withdraw, caps, staff proposals,
expiry at the deadline, and the mail each step sends (through the real SMTP server)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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

from portal.accounts.models import User
from portal.extensions import db
from portal.missions import requests as req
from portal.missions.models import (
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)

PAST = dt.date(2000, 1, 1)


@dataclass
class Room:
    event: MissionEvent
    acme: Participant
    bolt: Participant
    city: Participant
    port: Participant
    acme_member: User
    city_member: User


@pytest.fixture
def room(app: Flask) -> Room:
    event = make_event(ref="room")
    acme = make_participant(event, make_org(VENDOR, "Acme Traffic"))
    bolt = make_participant(event, make_org(VENDOR, "Bolt Energy"))
    city = make_participant(event, make_org(BUYER, "Hue City"))
    port = make_participant(event, make_org(BUYER, "Port Authority"))
    return Room(
        event,
        acme,
        bolt,
        city,
        port,
        make_member(acme.organization),
        make_member(city.organization),
    )


def _send(client: FlaskClient, to: Participant, **fields: Any) -> Any:
    data = {"to": str(to.id), "message": "Signals for the bridge", **fields}
    return client.post("/events/room/requests", data=data)


def _only_request() -> MeetingRequest:
    db.session.expire_all()
    [found] = db.session.scalars(db.select(MeetingRequest)).all()
    return found


def test_send_a_request_and_the_other_side_hears_of_it(
    client: FlaskClient, room: Room, mailbox: Any
) -> None:
    log_in(client, room.acme_member)
    response = _send(client, room.city, must_meet="y")
    assert response.status_code == 302
    request = _only_request()
    assert (request.from_id, request.to_id) == (room.acme.id, room.city.id)
    assert request.status == RequestStatus.PENDING and request.must_meet
    [mail] = mailbox.to(room.city_member.email)
    assert "Acme Traffic asks to meet you" in mail["Subject"]
    body = mailbox.body(mail)
    assert "Signals for the bridge" in body and "http://localhost/events/room/requests" in body
    page = client.get("/events/room/requests")
    assert page.status_code == 200 and "Hue City" in page.text and "must-meet" in page.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to": ""}, "Choose whom to meet."),
        ({"to": "999999"}, "Choose a participant of this event."),
        ({"to": "abc"}, "Choose a participant of this event."),
        ({"to": "99999999999999999999"}, "Choose a participant of this event."),
        ({"to": "-3"}, "Choose a participant of this event."),
        ({"message": "x" * 2001}, "longer than 2000"),
    ],
)
def test_bad_request_input_is_refused_beside_its_field(
    client: FlaskClient, room: Room, fields: dict[str, str], message: str
) -> None:
    log_in(client, room.acme_member)
    data = {"to": str(room.city.id), "message": "hi", **fields}
    response = client.post("/events/room/requests", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert count_rows(MeetingRequest) == 0


def test_one_request_per_pair_whichever_way(client: FlaskClient, room: Room) -> None:
    make_request(room.city, room.acme)
    log_in(client, room.acme_member)
    response = _send(client, room.city)
    assert response.status_code == 400
    assert "already a request between you and Hue City" in response.text
    assert count_rows(MeetingRequest) == 1


def test_yourself_is_refused(client: FlaskClient, room: Room) -> None:
    log_in(client, room.acme_member)
    response = _send(client, room.acme)
    assert response.status_code == 400 and "yourself" in response.text


def test_the_pending_cap(client: FlaskClient, room: Room, app: Flask, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PORTAL_EVENT_PENDING_REQUESTS", 1)
    log_in(client, room.acme_member)
    assert _send(client, room.city).status_code == 302
    response = _send(client, room.port)
    assert response.status_code == 400
    assert "1 requests waiting for an answer" in response.text
    assert count_rows(MeetingRequest) == 1


def test_the_must_meet_cap(client: FlaskClient, room: Room, monkeypatch) -> None:
    monkeypatch.setattr(req, "MUST_MEET_CAP", 1)
    log_in(client, room.acme_member)
    assert _send(client, room.city, must_meet="y").status_code == 302
    response = _send(client, room.port, must_meet="y")
    assert response.status_code == 400
    assert "already have 1 must-meets" in response.text
    assert 'id="must_meet-error"' in response.text
    assert count_rows(MeetingRequest) == 1


def test_mark_and_unmark_must_meet(client: FlaskClient, room: Room, monkeypatch) -> None:
    monkeypatch.setattr(req, "MUST_MEET_CAP", 1)
    first = make_request(room.acme, room.city)
    second = make_request(room.acme, room.port)
    log_in(client, room.acme_member)
    url = "/events/room/requests/{}/must-meet"
    assert client.post(url.format(first.id), data={"must_meet": "y"}).status_code == 303
    assert reload(first).must_meet
    refused = client.post(url.format(second.id), data={"must_meet": "y"}, follow_redirects=True)
    assert "already have 1 must-meets" in refused.text
    assert not reload(second).must_meet
    assert client.post(url.format(first.id), data={}).status_code == 303
    assert not reload(first).must_meet


def test_members_who_did_not_register_may_not_request(client: FlaskClient, room: Room) -> None:
    log_in(client, make_member(make_org(VENDOR, "Outsider")))
    assert client.get("/events/room/requests").status_code == 403
    assert _send(client, room.city).status_code == 403
    assert count_rows(MeetingRequest) == 0


def test_requests_close_with_registration(client: FlaskClient) -> None:
    event = make_event(ref="late", registration_closes=PAST)
    acme = make_participant(event, make_org(VENDOR, "Acme"))
    city = make_participant(event, make_org(BUYER, "City"))
    log_in(client, make_member(acme.organization))
    response = client.post("/events/late/requests", data={"to": str(city.id)})
    assert response.status_code == 403
    assert count_rows(MeetingRequest) == 0


def test_accept_tells_the_asking_side(client: FlaskClient, room: Room, mailbox: Any) -> None:
    request = make_request(room.acme, room.city)
    log_in(client, room.city_member)
    response = client.post(f"/events/room/requests/{request.id}/answer", data={"answer": "accept"})
    assert response.status_code == 303
    assert reload(request).status == RequestStatus.ACCEPTED
    [mail] = mailbox.to(room.acme_member.email)
    assert "Hue City accepted your meeting request" in mail["Subject"]


def test_decline_keeps_the_reason_for_staff_only(
    client: FlaskClient, room: Room, mailbox: Any
) -> None:
    request = make_request(room.acme, room.city)
    log_in(client, room.city_member)
    response = client.post(
        f"/events/room/requests/{request.id}/answer",
        data={"answer": "decline", "reason": "We already run their rival's system"},
    )
    assert response.status_code == 303
    request = reload(request)
    assert request.status == RequestStatus.DECLINED
    assert request.decline_reason == "We already run their rival's system"
    [mail] = mailbox.to(room.acme_member.email)
    assert "declined" in mail["Subject"]
    assert "rival" not in mailbox.body(mail)
    log_in(client, room.acme_member)
    assert "rival" not in client.get("/events/room/requests").text
    log_in(client, staff_user())
    assert "rival" in client.get("/events/room/requests").text


def test_only_the_asked_side_answers(client: FlaskClient, room: Room) -> None:
    request = make_request(room.acme, room.city)
    log_in(client, room.acme_member)
    url = f"/events/room/requests/{request.id}/answer"
    assert client.post(url, data={"answer": "accept"}).status_code == 403
    log_in(client, make_member(room.bolt.organization))
    assert client.post(url, data={"answer": "accept"}).status_code == 403
    assert reload(request).status == RequestStatus.PENDING


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Accept or decline."),
        ({"answer": "maybe"}, "valid choice"),
        ({"answer": "decline", "reason": "x" * 2001}, "longer than 2000"),
    ],
)
def test_bad_answers_change_nothing(
    client: FlaskClient, room: Room, data: dict[str, str], message: str
) -> None:
    request = make_request(room.acme, room.city)
    log_in(client, room.city_member)
    response = client.post(
        f"/events/room/requests/{request.id}/answer", data=data, follow_redirects=True
    )
    assert message in response.text
    assert reload(request).status == RequestStatus.PENDING


def test_an_answered_request_cannot_be_answered_again(client: FlaskClient, room: Room) -> None:
    request = make_request(room.acme, room.city, status=RequestStatus.DECLINED)
    log_in(client, room.city_member)
    response = client.post(
        f"/events/room/requests/{request.id}/answer",
        data={"answer": "accept"},
        follow_redirects=True,
    )
    assert "can no longer be answered" in response.text
    assert reload(request).status == RequestStatus.DECLINED


def test_withdraw_an_accepted_request_takes_its_meeting(client: FlaskClient, room: Room) -> None:
    request = make_request(room.acme, room.city, status=RequestStatus.ACCEPTED)
    start = dt.datetime(2099, 3, 9, 2, 0, tzinfo=dt.UTC)
    db.session.add(
        Meeting(
            event_id=room.event.id,
            request_id=request.id,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=20),
            table_number=1,
        )
    )
    db.session.commit()
    log_in(client, room.city_member)
    url = f"/events/room/requests/{request.id}/withdraw"
    assert client.post(url).status_code == 403  # only the side that asked
    log_in(client, room.acme_member)
    assert client.post(url).status_code == 303
    assert reload(request).status == RequestStatus.WITHDRAWN
    assert count_rows(Meeting) == 0
    # Withdrawn, the pair may ask again.
    assert _send(client, room.city).status_code == 302
    assert _only_request().status == RequestStatus.PENDING


def test_a_declined_pair_may_not_ask_again(client: FlaskClient, room: Room) -> None:
    make_request(room.acme, room.city, status=RequestStatus.DECLINED)
    log_in(client, room.acme_member)
    response = _send(client, room.city)
    assert response.status_code == 400 and "was declined" in response.text


def test_unknown_requests_are_404(client: FlaskClient, room: Room) -> None:
    other = make_event(ref="other")
    x = make_participant(other, make_org(VENDOR))
    y = make_participant(other, make_org(BUYER))
    foreign = make_request(x, y)
    log_in(client, room.city_member)
    for request_id in (foreign.id, 999999):
        url = f"/events/room/requests/{request_id}/answer"
        assert client.post(url, data={"answer": "accept"}).status_code == 404
    assert client.get("/events/nope/requests").status_code == 404


def test_staff_propose_a_meeting(client: FlaskClient, room: Room, mailbox: Any) -> None:
    log_in(client, staff_user())
    page = client.get("/events/room/requests")
    assert page.status_code == 200 and "Propose a meeting" in page.text
    response = client.post(
        "/events/room/requests/propose",
        data={"first": str(room.acme.id), "second": str(room.city.id), "message": "Meet!"},
    )
    assert response.status_code == 302
    request = _only_request()
    assert request.proposed_by_staff and request.status == RequestStatus.PENDING
    assert "Trade staff suggest" in mailbox.body(mailbox.to(room.city_member.email)[0])
    assert "Trade staff suggest" in mailbox.to(room.acme_member.email)[0]["Subject"]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("acme", "acme", "Choose two different participants."),
        ("acme", None, "This field is required."),
        ("acme", "ghost", "Not a valid choice"),
    ],
)
def test_bad_proposals_change_nothing(
    client: FlaskClient, room: Room, first: str, second: str | None, message: str
) -> None:
    log_in(client, staff_user())
    data = {"first": str(getattr(room, first).id)}
    if second is not None:
        data["second"] = str(getattr(room, second).id) if second != "ghost" else "424242"
    response = client.post("/events/room/requests/propose", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert count_rows(MeetingRequest) == 0


def test_members_may_not_propose(client: FlaskClient, room: Room) -> None:
    log_in(client, room.acme_member)
    data = {"first": str(room.bolt.id), "second": str(room.city.id)}
    assert client.post("/events/room/requests/propose", data=data).status_code == 403


def test_unanswered_requests_expire_after_the_deadline(app: Flask) -> None:
    event = make_event(registration_closes=dt.date(2030, 5, 1), time_zone="Asia/Bangkok")
    a = make_participant(event, make_org(VENDOR))
    b = make_participant(event, make_org(BUYER))
    c = make_participant(event, make_org(BUYER))
    waiting = make_request(a, b)
    accepted = make_request(a, c, status=RequestStatus.ACCEPTED)
    # Still 1 May in Bangkok: nothing expires.
    assert req.expire_requests(dt.datetime(2030, 5, 1, 16, 0, tzinfo=dt.UTC)) == 0
    assert req.expire_requests(dt.datetime(2030, 5, 1, 18, 0, tzinfo=dt.UTC)) == 1
    db.session.commit()
    assert reload(waiting).status == RequestStatus.EXPIRED
    assert reload(accepted).status == RequestStatus.ACCEPTED
    assert req.expire_requests(dt.datetime(2030, 6, 1, tzinfo=dt.UTC)) == 0


def test_the_pending_cap_reads_its_setting(app: Flask, monkeypatch) -> None:
    assert req.pending_cap() == req.DEFAULT_PENDING_CAP
    monkeypatch.setitem(app.config, "PORTAL_EVENT_PENDING_REQUESTS", "5")
    assert req.pending_cap() == 5
