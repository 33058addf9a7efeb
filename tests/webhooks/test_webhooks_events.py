"""Which events reach which endpoint: the signals' receivers write delivery rows in the
change's transaction, for the organizations that may see the change, with no contacts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from introductions.intro_factories import make_pair
from organizations.directory_factories import make_need, make_org, make_user
from webhooks.webhook_helpers import Receiver, make_endpoint

from portal.accounts.models import Role
from portal.db import utc_now, utc_today
from portal.extensions import db
from portal.follows.alerts import sweep_publications
from portal.introductions import services as introductions
from portal.missions.grid import cancel_meeting, move_meeting
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.missions.services import publish
from portal.needs.services import close_need, create_need
from portal.notices.amendments import amend
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus
from portal.webhooks.delivery import deliver_due
from portal.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint

HOOK = "https://hooks.example.org/portal"


def queued(endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id)
    )
    return [json.loads(row.body) for row in rows]


def endpoint_of(organization: Organization, *events: str) -> WebhookEndpoint:
    return make_endpoint(HOOK, list(events), organization).endpoint


def post_need(buyer: Organization, title: str = "Smart water meters") -> Any:
    return create_need(buyer, title=title, description="Meters for the old town.")


# --- needs: public needs, for every subscribed organization ------------------------------


def test_a_published_need_goes_to_every_endpoint_that_chose_it(app: Flask) -> None:
    vendor_hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_PUBLISHED)
    buyer_hook = endpoint_of(make_org(OrganizationKind.BUYER), EventType.NEED_PUBLISHED)
    other_events = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED)
    buyer = make_org(OrganizationKind.BUYER, "Da Nang Water")

    need = post_need(buyer)
    db.session.commit()

    [event] = queued(vendor_hook)
    assert event["type"] == "need.published"
    assert event["data"]["need"]["ref"] == need.ref
    assert event["data"]["need"]["buyer"]["name"] == "Da Nang Water"
    assert queued(buyer_hook)[0]["id"] == event["id"]  # one event, one id
    assert queued(other_events) == []


def test_a_need_of_an_unverified_buyer_is_no_event(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_PUBLISHED)
    post_need(make_org(OrganizationKind.BUYER, verified=False))
    db.session.commit()
    assert queued(hook) == []


def test_a_rolled_back_change_sends_nothing(loopback: Flask, receiver: Receiver) -> None:
    hook = make_endpoint(receiver.url, [EventType.NEED_PUBLISHED]).endpoint
    buyer = make_org(OrganizationKind.BUYER)

    post_need(buyer, "Rolled back")  # the receiver wrote its row in this transaction
    db.session.rollback()

    assert queued(hook) == []
    assert deliver_due().handled == 0
    assert receiver.requests == []

    post_need(buyer, "Committed")
    db.session.commit()
    assert deliver_due().delivered == 1
    [request] = receiver.requests
    assert json.loads(request.body)["data"]["need"]["title"] == "Committed"


def test_closing_and_amending_a_public_need_are_events(app: Flask) -> None:
    hook = endpoint_of(
        make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED, EventType.NEED_AMENDED
    )
    need = post_need(make_org(OrganizationKind.BUYER))
    change = {"field": "closes_on", "old": None, "new": "2099-01-31"}
    amend(need, [change], note="Deadline set.")  # the notices feature's sender
    close_need(need)
    db.session.commit()

    amended, closed = queued(hook)
    assert amended["type"] == "need.amended"
    assert amended["data"]["amendment"]["number"] == 1
    assert amended["data"]["amendment"]["changes"] == [change]
    assert amended["data"]["amendment"]["note"] == "Deadline set."
    assert closed["type"] == "need.closed"
    assert closed["data"]["need"]["status"] == "closed"


def test_closing_a_need_nobody_could_see_is_no_event(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED)
    need = make_need(make_org(OrganizationKind.BUYER, verified=False), "Hidden")
    close_need(need)
    db.session.commit()
    assert queued(hook) == []


# --- needs no person announced: the worker's publication sweep tells them -----------------


def test_an_imported_need_is_announced_once_by_the_sweep(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_PUBLISHED)
    need = make_need(make_org(OrganizationKind.BUYER), "Imported flood sensors")  # no signal
    assert queued(hook) == []

    sweep_publications(utc_now())
    sweep_publications(utc_now())  # a second pass, or a second worker: nothing new

    [event] = queued(hook)
    assert (event["type"], event["data"]["need"]["ref"]) == ("need.published", need.ref)


def test_a_need_whose_date_passed_is_closed_as_expired_once(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED)
    need = post_need(make_org(OrganizationKind.BUYER))
    need.closes_on = utc_today() + dt.timedelta(days=3)
    db.session.commit()
    sweep_publications(utc_now())
    assert queued(hook) == []  # still public

    need.closes_on = utc_today() - dt.timedelta(days=1)  # as if its date had passed
    db.session.commit()
    sweep_publications(utc_now())
    sweep_publications(utc_now())

    [event] = queued(hook)
    assert event["type"] == "need.closed"
    assert (event["data"]["need"]["ref"], event["data"]["need"]["status"]) == (need.ref, "expired")


def test_a_need_closed_by_a_person_is_not_announced_again_by_the_sweep(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED)
    need = post_need(make_org(OrganizationKind.BUYER))
    close_need(need)
    db.session.commit()
    sweep_publications(utc_now())

    [event] = queued(hook)
    assert event["data"]["need"]["status"] == "closed"


def test_a_buyer_losing_verification_withdraws_its_public_needs(app: Flask) -> None:
    hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.NEED_CLOSED)
    buyer = make_org(OrganizationKind.BUYER)
    need = post_need(buyer)
    db.session.commit()
    buyer.status = VerificationStatus.PENDING
    db.session.commit()
    sweep_publications(utc_now())

    [event] = queued(hook)
    assert (event["data"]["need"]["ref"], event["data"]["need"]["status"]) == (
        need.ref,
        "withdrawn",
    )


# --- introductions: only the two organizations, each once it may see it ------------------


def test_an_introduction_change_reaches_only_the_sides_that_see_it(app: Flask) -> None:
    pair = make_pair()
    vendor_hook = endpoint_of(pair.vendor, EventType.INTRODUCTION_CHANGED)
    buyer_hook = endpoint_of(pair.buyer, EventType.INTRODUCTION_CHANGED)
    outsider_hook = endpoint_of(make_org(OrganizationKind.BUYER), EventType.INTRODUCTION_CHANGED)
    staff = make_user(Role.STAFF)
    asker = make_user(Role.VENDOR, pair.vendor)
    introduction = introductions.request_introduction(
        asker, vendor=pair.vendor, buyer=pair.buyer, need=pair.need, message="Hello"
    )

    introductions.take_for_review(introduction, staff)
    db.session.commit()
    # The buyer does not see a vendor's request before staff approve it.
    assert [e["data"]["introduction"]["state"] for e in queued(vendor_hook)] == ["under_review"]
    assert queued(buyer_hook) == []

    introductions.approve(introduction, staff)
    db.session.commit()

    [_reviewed, approved] = queued(vendor_hook)
    assert approved["data"]["introduction"]["previous_state"] == "under_review"
    assert [e["data"]["introduction"]["state"] for e in queued(buyer_hook)] == ["approved"]
    assert queued(outsider_hook) == []
    for event in queued(vendor_hook) + queued(buyer_hook):
        text = json.dumps(event)
        for contact in (pair.vendor_contact, pair.buyer_contact):
            assert contact.email not in text and contact.phone not in text and "@" not in text


# --- meetings: the two participants' organizations ---------------------------------------


def _event_with_meeting(first: Organization, second: Organization) -> Meeting:
    event = MissionEvent(
        ref="hook-event",
        name="Hook Event",
        time_zone="UTC",
        sessions=[{"start": "2099-03-09T09:00", "end": "2099-03-09T11:00"}],
        tables=2,
    )
    db.session.add(event)
    db.session.flush()
    one, two = (Participant(event_id=event.id, organization_id=org.id) for org in (first, second))
    db.session.add_all([one, two])
    db.session.flush()
    request = MeetingRequest(
        event_id=event.id,
        from_id=one.id,
        to_id=two.id,
        pair=MeetingRequest.pair_of(one.id, two.id),
        status="accepted",
    )
    db.session.add(request)
    db.session.flush()
    start = dt.datetime(2099, 3, 9, 9, 0, tzinfo=dt.UTC)
    meeting = Meeting(
        event_id=event.id,
        request_id=request.id,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=20),
        table_number=1,
        published=False,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


def test_published_moved_and_cancelled_meetings_reach_their_two_participants(
    app: Flask,
) -> None:
    vendor = make_org(OrganizationKind.VENDOR)
    buyer = make_org(OrganizationKind.BUYER)
    vendor_hook = endpoint_of(vendor, EventType.MEETING_SCHEDULED)
    buyer_hook = endpoint_of(buyer, EventType.MEETING_SCHEDULED)
    outsider_hook = endpoint_of(make_org(OrganizationKind.VENDOR), EventType.MEETING_SCHEDULED)
    meeting = _event_with_meeting(vendor, buyer)
    event = db.session.get(MissionEvent, meeting.event_id)

    assert publish(event) == 1
    db.session.commit()
    move_meeting(event, meeting, slot=1, table=2)
    db.session.commit()
    cancel_meeting(event, meeting)
    db.session.commit()

    for hook in (vendor_hook, buyer_hook):
        changes = [e["data"]["change"] for e in queued(hook)]
        assert changes == ["published", "moved", "cancelled"]
    published, moved, _ = queued(vendor_hook)
    assert published["data"]["meeting"]["table"] == 1
    assert moved["data"]["meeting"]["table"] == 2
    assert moved["data"]["meeting"]["starts_at"] == "2099-03-09T09:20:00Z"
    names = {p["name"] for p in published["data"]["participants"]}
    assert names == {vendor.name, buyer.name}
    assert queued(outsider_hook) == []


def test_a_draft_meeting_moved_is_no_event(app: Flask) -> None:
    vendor = make_org(OrganizationKind.VENDOR)
    hook = endpoint_of(vendor, EventType.MEETING_SCHEDULED)
    meeting = _event_with_meeting(vendor, make_org(OrganizationKind.BUYER))
    event = db.session.get(MissionEvent, meeting.event_id)
    move_meeting(event, meeting, slot=1, table=2)
    db.session.commit()
    assert queued(hook) == []
