"""A small event scheduled and published, for the agenda, outcome and agenda-mail tests.

Imported as ``agenda_factories`` (``tests/missions`` is on ``sys.path`` like
``mission_factories``). Built through the exchange import and the scheduler, as staff do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from missions.mission_factories import small_event

from portal.exchange.importer import import_file
from portal.extensions import db
from portal.missions import services
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.organizations.models import Organization

DENVER = "America/Denver"
JOIN = "https://meet.example.org/{event}-{meeting}?k={secret}"


@dataclass
class Scheduled:
    event: MissionEvent

    def participant(self, ref: str) -> Participant:
        found = db.session.scalar(
            sa.select(Participant)
            .join(Organization, Organization.id == Participant.organization_id)
            .where(Participant.event_id == self.event.id, Organization.ref == ref)
        )
        assert found is not None, ref
        return found

    def organization(self, ref: str) -> Organization:
        return self.participant(ref).organization

    def meeting(self, a: str, b: str) -> Meeting:
        first, second = self.participant(a), self.participant(b)
        pair = MeetingRequest.pair_of(first.id, second.id)
        found = db.session.scalar(
            sa.select(Meeting)
            .join(MeetingRequest, MeetingRequest.id == Meeting.request_id)
            .where(MeetingRequest.pair == pair)
        )
        assert found is not None, (a, b)
        return found

    def meetings(self) -> list[Meeting]:
        return list(
            db.session.scalars(
                sa.select(Meeting).where(Meeting.event_id == self.event.id).order_by(Meeting.id)
            )
        )

    def shift(self, delta: dt.timedelta) -> None:
        """Move every meeting by ``delta`` (to put the event in the past, say)."""
        for meeting in self.meetings():
            meeting.starts_at += delta
            meeting.ends_at += delta
        db.session.commit()


def scheduled_event(tmp_path: Path, *, publish: bool = True) -> Scheduled:
    """The small event of ``mission_factories`` (in Bangkok, acme online from Denver),
    with a join link pattern, scheduled and, unless told otherwise, published."""
    import_file(small_event(tmp_path / "event.jsonl"))
    event = db.session.scalar(sa.select(MissionEvent).where(MissionEvent.ref == "ev-1"))
    assert event is not None
    event.join_link_pattern = JOIN
    made = Scheduled(event)
    made.participant("acme").time_zone = DENVER
    services.schedule_event(event)
    if publish:
        services.publish(event)
    db.session.commit()
    return made
