"""Factories for the event page tests: events, participants, requests and meetings made
through the services, committed so that requests made with the client see them.

Imported as ``missions.page_factories`` (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from organizations.directory_factories import log_in, make_member, make_org, make_user

from portal.accounts.models import Role
from portal.extensions import db
from portal.missions import services
from portal.missions.models import MeetingRequest, MissionEvent, Participant, RequestStatus
from portal.organizations.models import Organization, OrganizationKind

__all__ = ["log_in", "make_member", "make_org", "make_user"]

VENDOR = OrganizationKind.VENDOR
BUYER = OrganizationKind.BUYER
_serial = itertools.count(1)
FUTURE = dt.date(2099, 3, 1)
SESSIONS = "2099-03-09 09:00-10:00\n2099-03-09 14:00-15:00"


def event_form(**overrides: Any) -> dict[str, Any]:
    """What staff post to create an event; the field names of ``EventForm``."""
    data: dict[str, Any] = {
        "name": "Bangkok Smart City Matchmaking",
        "ref": f"bkk-{next(_serial)}",
        "city": "Bangkok",
        "country": "TH",
        "venue": "Queen Sirikit Centre",
        "time_zone": "Asia/Bangkok",
        "sessions": SESSIONS,
        "meeting_minutes": "20",
        "tables": "2",
        "online": "y",
        "registration_closes": FUTURE.isoformat(),
        "join_link_pattern": "https://meet.example.org/{event}-{meeting}",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def make_event(**fields: Any) -> MissionEvent:
    values = services.EventValues(
        name=fields.pop("name", "Matchmaking"),
        ref=fields.pop("ref", f"ev-{next(_serial)}"),
        time_zone=fields.pop("time_zone", "Asia/Bangkok"),
        sessions=fields.pop("sessions", SESSIONS),
        meeting_minutes=fields.pop("meeting_minutes", 20),
        tables=fields.pop("tables", 2),
        online=fields.pop("online", True),
        registration_closes=fields.pop("registration_closes", FUTURE),
        **fields,
    )
    event = services.create_event(values)
    db.session.commit()
    return event


def make_participant(event: MissionEvent, organization: Organization, **fields: Any) -> Participant:
    participant = Participant(event_id=event.id, organization_id=organization.id, **fields)
    db.session.add(participant)
    db.session.commit()
    return participant


def make_request(
    sender: Participant,
    target: Participant,
    status: RequestStatus = RequestStatus.PENDING,
    **fields: Any,
) -> MeetingRequest:
    request = MeetingRequest(
        event_id=sender.event_id,
        from_id=sender.id,
        to_id=target.id,
        pair=MeetingRequest.pair_of(sender.id, target.id),
        status=status,
        **fields,
    )
    db.session.add(request)
    db.session.commit()
    return request


def staff_user() -> Any:
    return make_user(Role.STAFF)


def reload(instance: Any) -> Any:
    db.session.expire_all()
    return db.session.get(type(instance), instance.id)
