"""Scheduling from the page, publishing, and the staff grid: move or cancel a meeting by
hand, and a move that breaks a rule is refused with the rule named."""

from __future__ import annotations

import datetime as dt
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
    reload,
)
from support import count_rows

from portal.accounts.models import User
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import deliver_pending
from portal.missions import grid as grid_services
from portal.missions import services
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, RequestStatus
from portal.signals import meetings_scheduled

ACCEPTED = RequestStatus.ACCEPTED


@dataclass
class Planned:
    event: MissionEvent
    must: MeetingRequest  # acme (online) and city
    onsite: MeetingRequest  # bolt and city
    morning: MeetingRequest  # bolt and port, who attends the morning only
    apart: MeetingRequest  # cog (afternoon only) and port (morning only)


@pytest.fixture
def planned(app: Flask) -> Planned:
    # Two sessions of three 20-minute slots; one table; online allowed.
    event = make_event(ref="plan", tables=1, online=True)
    acme = make_participant(event, make_org(VENDOR, "Acme Traffic"), mode="online")
    bolt = make_participant(event, make_org(VENDOR, "Bolt Energy"))
    cog = make_participant(event, make_org(VENDOR, "Cog Works"), attends=[1])
    city = make_participant(event, make_org(BUYER, "Hue City"))
    port = make_participant(event, make_org(BUYER, "Port Authority"), attends=[0])
    return Planned(
        event,
        make_request(acme, city, ACCEPTED, must_meet=True),
        make_request(bolt, city, ACCEPTED),
        make_request(bolt, port, ACCEPTED),
        make_request(cog, port, ACCEPTED),
    )


def _meeting(request: MeetingRequest) -> Meeting:
    db.session.expire_all()
    return db.session.scalar(db.select(Meeting).where(Meeting.request_id == request.id))


def test_run_the_scheduler_from_the_page(client: FlaskClient, planned: Planned, staff) -> None:
    assert client.get("/events/plan/schedule").status_code == 200
    response = client.post("/events/plan/schedule", data={})
    assert response.status_code == 200
    assert "3 meetings placed" in response.text
    assert "Cog Works and Port Authority" in response.text  # not placed, with a reason
    assert "no common" in response.text or "session" in response.text
    assert count_rows(Meeting) == 3
    assert _meeting(planned.must).online and _meeting(planned.must).table_number is None


def test_publish_from_the_page(client: FlaskClient, planned: Planned, staff) -> None:
    services.schedule_event(planned.event)
    db.session.commit()
    response = client.post("/events/plan/publish")
    assert response.status_code == 303
    db.session.expire_all()
    assert all(m.published for m in db.session.scalars(db.select(Meeting)))


def test_the_grid_shows_every_meeting(client: FlaskClient, planned: Planned, staff) -> None:
    services.schedule_event(planned.event)
    db.session.commit()
    page = client.get("/events/plan/grid")
    assert page.status_code == 200
    assert "Table 1" in page.text and "Online" in page.text
    assert "Acme Traffic and Hue City" in page.text
    assert "Bolt Energy and Port Authority" in page.text
    grid = grid_services.event_grid(planned.event)
    assert len(grid.rows) == 6 and grid.meetings == 3 and not grid.broken


def _place(planned: Planned, request: MeetingRequest, slot: int, table: int | None) -> Meeting:
    """Put a meeting where a test wants it, bypassing the scheduler."""
    slots = services.slot_times(planned.event)
    meeting = Meeting(
        event_id=planned.event.id,
        request_id=request.id,
        starts_at=slots[slot].start.astimezone(dt.UTC),
        ends_at=slots[slot].end.astimezone(dt.UTC),
        table_number=table,
        online=table is None,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


def test_a_move_that_breaks_a_rule_is_refused_with_the_rule(
    client: FlaskClient, planned: Planned, staff
) -> None:
    onsite = _place(planned, planned.onsite, 0, 1)
    morning = _place(planned, planned.morning, 1, 1)
    url = f"/events/plan/meetings/{morning.id}/move"
    # Port Authority attends the morning only.
    response = client.post(url, data={"slot": "4", "place": "1"})
    assert response.status_code == 400
    assert "does not attend the session" in response.text
    # Bolt Energy already meets in slot 0 (and table 1 is taken).
    response = client.post(url, data={"slot": "0", "place": "1"})
    assert response.status_code == 400
    assert "Bolt Energy" in response.text or "has two meetings" in response.text
    # Both on site: no online meeting.
    response = client.post(url, data={"slot": "2", "place": "online"})
    assert response.status_code == 400
    assert "a meeting between two on-site participants takes a table" in response.text
    # No table 2 at this event.
    response = client.post(url, data={"slot": "2", "place": "2"})
    assert response.status_code == 400 and "there is no table 2" in response.text
    assert reload(morning).starts_at == services.slot_times(planned.event)[1].start
    assert reload(onsite).table_number == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slot": "99", "place": "1"}, "Choose one of the event"),
        ({"slot": "x", "place": "1"}, "Not a valid integer value."),
        ({"slot": "1"}, "Choose a table or online."),
        ({"slot": "1", "place": "window"}, "Give a table number or"),
    ],
)
def test_bad_move_input_changes_nothing(
    client: FlaskClient, planned: Planned, staff, data: dict[str, str], message: str
) -> None:
    morning = _place(planned, planned.morning, 1, 1)
    response = client.post(f"/events/plan/meetings/{morning.id}/move", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert reload(morning).starts_at == services.slot_times(planned.event)[1].start


def test_an_allowed_move(client: FlaskClient, planned: Planned, staff) -> None:
    morning = _place(planned, planned.morning, 1, 1)
    response = client.post(
        f"/events/plan/meetings/{morning.id}/move", data={"slot": "2", "place": "1"}
    )
    assert response.status_code == 303
    assert reload(morning).starts_at == services.slot_times(planned.event)[2].start
    page = client.get(f"/events/plan/grid?move={morning.id}")
    assert "Move Bolt Energy and Port Authority" in page.text


def test_cancel_a_meeting(client: FlaskClient, planned: Planned, staff) -> None:
    morning = _place(planned, planned.morning, 1, 1)
    response = client.post(f"/events/plan/meetings/{morning.id}/cancel")
    assert response.status_code == 303
    assert count_rows(Meeting) == 0
    assert reload(planned.morning).status == ACCEPTED


def test_the_grid_names_rules_broken_after_an_edit(planned: Planned, app: Flask) -> None:
    _place(planned, planned.morning, 4, 1)  # Port Authority is not there in the afternoon
    grid = grid_services.event_grid(planned.event)
    assert any("does not attend" in str(v) for v in grid.broken)


def test_members_may_not_schedule_or_see_the_grid(client: FlaskClient, planned: Planned) -> None:
    morning = _place(planned, planned.morning, 1, 1)
    log_in(client, make_member(planned.morning.requester.organization))
    assert client.get("/events/plan/grid").status_code == 403
    assert client.post("/events/plan/schedule").status_code == 403
    assert client.post("/events/plan/publish").status_code == 403
    move = client.post(f"/events/plan/meetings/{morning.id}/move", data={"slot": "2", "place": "1"})
    assert move.status_code == 403
    assert client.post(f"/events/plan/meetings/{morning.id}/cancel").status_code == 403
    assert count_rows(Meeting) == 1


def test_unknown_meetings_are_404(client: FlaskClient, planned: Planned, staff) -> None:
    assert client.post("/events/plan/meetings/999999/cancel").status_code == 404
    data = {"slot": "1", "place": "1"}
    assert client.post("/events/plan/meetings/999999/move", data=data).status_code == 404


# --- hand changes to published meetings are mailed to the two sides -----------------------

CHANGED = "Your agenda for Matchmaking has changed"


@pytest.fixture
def members(planned: Planned) -> dict[str, User]:
    """A confirmed member of each of the four organizations the placed meetings join."""
    return {
        name: make_member(participant.organization)
        for name, participant in (
            ("acme", planned.must.requester),
            ("city", planned.must.requested),
            ("bolt", planned.morning.requester),
            ("port", planned.morning.requested),
        )
    }


def _published(planned: Planned) -> dict[str, Meeting]:
    """Three meetings placed by hand and published; the "published" mail has gone."""
    meetings = {
        "must": _place(planned, planned.must, 0, None),
        "onsite": _place(planned, planned.onsite, 2, 1),
        "morning": _place(planned, planned.morning, 1, 1),
    }
    services.publish(planned.event)
    db.session.commit()
    deliver_pending()
    return meetings


def _changed_mail() -> list[str]:
    """Recipients of "agenda changed" in the outbox, sorted."""
    return sorted(
        db.session.scalars(
            db.select(OutboxMessage.recipient).where(OutboxMessage.subject == CHANGED)
        )
    )


def test_moving_a_published_meeting_mails_its_two_sides_their_changed_agendas(
    client: FlaskClient, planned: Planned, staff, members: dict[str, User], mailbox
) -> None:
    morning = _published(planned)["morning"]
    mailbox.messages.clear()
    response = client.post(
        f"/events/plan/meetings/{morning.id}/move", data={"slot": "0", "place": "1"}
    )
    assert response.status_code == 303
    page = client.get("/events/plan/grid")
    assert "both sides are mailed their changed agendas" in page.text
    assert "mails its two sides their changed agendas at once" in page.text
    assert _changed_mail() == sorted([members["bolt"].email, members["port"].email])
    moved = services.slot_times(planned.event)[0].start
    for name in ("bolt", "port"):
        message = mailbox.wait_for(members[name].email, lambda m: m["Subject"] == CHANGED)
        assert f"{moved:%Y-%m-%d %H:%M}" in mailbox.body(message)
    assert not [
        m
        for m in mailbox.messages
        if m["Subject"] == CHANGED and m["To"] in (members["acme"].email, members["city"].email)
    ]


def test_cancelling_a_published_meeting_mails_its_two_sides(
    client: FlaskClient, planned: Planned, staff, members: dict[str, User], mailbox
) -> None:
    onsite = _published(planned)["onsite"]
    mailbox.messages.clear()
    response = client.post(f"/events/plan/meetings/{onsite.id}/cancel")
    assert response.status_code == 303
    assert "Both sides are mailed their changed agendas." in client.get("/events/plan/grid").text
    # Bolt Energy and Hue City; Hue City still meets Acme Traffic, Bolt Energy Port Authority.
    assert _changed_mail() == sorted([members["bolt"].email, members["city"].email])
    message = mailbox.wait_for(members["city"].email, lambda m: m["Subject"] == CHANGED)
    body = mailbox.body(message)
    assert "Acme Traffic" in body and "Bolt Energy" not in body


def test_a_refused_move_of_a_published_meeting_mails_no_one(
    client: FlaskClient, planned: Planned, staff, members: dict[str, User]
) -> None:
    morning = _published(planned)["morning"]
    response = client.post(
        f"/events/plan/meetings/{morning.id}/move", data={"slot": "4", "place": "1"}
    )
    assert response.status_code == 400  # Port Authority attends the morning only
    assert _changed_mail() == []


def test_moving_or_cancelling_a_draft_meeting_mails_no_one(
    client: FlaskClient, planned: Planned, staff, members: dict[str, User]
) -> None:
    morning = _place(planned, planned.morning, 1, 1)
    onsite = _place(planned, planned.onsite, 2, 1)
    response = client.post(
        f"/events/plan/meetings/{morning.id}/move", data={"slot": "0", "place": "1"}
    )
    assert response.status_code == 303
    page = client.get("/events/plan/grid").text
    assert "Meeting moved." in page and "mailed their changed agendas" not in page
    assert client.post(f"/events/plan/meetings/{onsite.id}/cancel").status_code == 303
    page = client.get("/events/plan/grid").text
    assert "Meeting cancelled" in page and "Both sides are mailed" not in page
    assert count_rows(OutboxMessage) == 0


def test_the_staff_member_who_changed_a_schedule_is_named_to_subscribers(
    client: FlaskClient, planned: Planned, staff, members: dict[str, User]
) -> None:
    # meetings_scheduled says who acted, as the needs' signals do, for an audit trail
    heard: list[tuple[str, int | None]] = []

    def listen(sender: object, change: str, actor: User | None = None, **_: object) -> None:
        heard.append((change, actor.id if actor is not None else None))

    meetings_scheduled.connect(listen)
    try:
        onsite = _place(planned, planned.onsite, 2, 1)
        morning = _place(planned, planned.morning, 1, 1)
        client.post("/events/plan/publish", data={"confirm": "y"})
        client.post(f"/events/plan/meetings/{morning.id}/move", data={"slot": "0", "place": "1"})
        client.post(f"/events/plan/meetings/{onsite.id}/cancel", data={"confirm": "y"})
    finally:
        meetings_scheduled.disconnect(listen)
    assert heard == [("published", staff.id), ("moved", staff.id), ("cancelled", staff.id)]
