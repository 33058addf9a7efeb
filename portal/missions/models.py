"""Trade missions and matchmaking events: the event, its participants, their meeting
requests and the meetings the scheduler (or staff) placed.

Called "missions" in code so that they are never confused with the index events of the
outbox. Times of day are the event's local time (``sessions`` as written in the exchange
format); a meeting's start and end are stored in UTC like every timestamp.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import intpk, str200, str_ref, text, timestamp, utc_now
from portal.extensions import db

if TYPE_CHECKING:
    from portal.organizations.models import Organization


class AttendanceMode(StrEnum):
    ON_SITE = "on-site"
    ONLINE = "online"


class RequestStatus(StrEnum):
    """A meeting request's life; only accepted ones are scheduled."""

    PENDING = "pending"  # "requested" in the exchange format
    ACCEPTED = "accepted"
    DECLINED = "declined"  # with a reason only staff see
    WITHDRAWN = "withdrawn"  # by the side that asked
    EXPIRED = "expired"  # unanswered at the registration deadline


def _in(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


class MissionEvent(db.Model):
    """A trade mission or matchmaking event with one-to-one meetings."""

    __tablename__ = "mission_events"
    __table_args__ = (
        sa.CheckConstraint("meeting_minutes BETWEEN 10 AND 120", name="meeting_minutes"),
        sa.CheckConstraint("tables BETWEEN 0 AND 1000", name="tables"),
    )

    id: Mapped[intpk]
    ref: Mapped[str_ref]
    name: Mapped[str200]
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    country: Mapped[str] = mapped_column(sa.String(2), default="")
    venue: Mapped[str] = mapped_column(sa.String(200), default="")
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # [{"start": "YYYY-MM-DDTHH:MM", "end": ...}] in local time, in the file's order:
    # participants name sessions by their index in this list.
    sessions: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    meeting_minutes: Mapped[int] = mapped_column(default=20)
    tables: Mapped[int] = mapped_column(default=0)
    online: Mapped[bool] = mapped_column(default=False)
    registration_closes: Mapped[dt.date | None]
    # The join link of an online meeting, e.g. "https://meet.example.org/{event}-{meeting}".
    join_link_pattern: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    participants: Mapped[list[Participant]] = relationship(
        back_populates="event", passive_deletes=True, order_by="Participant.id"
    )

    def session_times(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The sessions as naive local (start, end) pairs."""
        return [
            (dt.datetime.fromisoformat(s["start"]), dt.datetime.fromisoformat(s["end"]))
            for s in self.sessions
        ]

    def __repr__(self) -> str:
        return f"<MissionEvent {self.ref}>"


class Participant(db.Model):
    """An organization taking part in an event."""

    __tablename__ = "mission_participants"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "organization_id", name="uq_mission_participants_once"),
        sa.CheckConstraint(f"mode IN ({_in(AttendanceMode)})", name="mode"),
        sa.CheckConstraint("max_meetings IS NULL OR max_meetings >= 1", name="max_meetings"),
    )

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("mission_events.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # Indexes into the event's sessions; None means all of them.
    attends: Mapped[list[int] | None] = mapped_column(sa.JSON)
    mode: Mapped[str] = mapped_column(sa.String(8), default=AttendanceMode.ON_SITE)
    max_meetings: Mapped[int | None]
    offers: Mapped[text]  # what it offers at this event
    looks_for: Mapped[text]  # what it looks for
    # An online participant's own zone, for its agenda and reminders ("" = the event's).
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="")
    registered_at: Mapped[timestamp]
    # The secret of the private calendar subscription URL; None until asked for, and
    # replaced (the old URL then stops working) when the participant regenerates it.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True)
    # A fingerprint of the published agenda last mailed: "agenda changed" goes only to
    # participants whose meetings differ from it.
    agenda_digest: Mapped[str | None] = mapped_column(sa.String(64))

    event: Mapped[MissionEvent] = relationship(back_populates="participants")
    organization: Mapped[Organization] = relationship()

    def attended_sessions(self, sessions: int) -> frozenset[int]:
        if self.attends is None:
            return frozenset(range(sessions))
        return frozenset(i for i in self.attends if 0 <= i < sessions)

    @property
    def online(self) -> bool:
        return self.mode == AttendanceMode.ONLINE


class MeetingRequest(db.Model):
    """One participant asks another for a meeting; at most one per pair and event.

    ``pair`` is "<lower participant id>-<higher>", so the database refuses a second
    request between the same two, whichever way it goes.
    """

    __tablename__ = "mission_meeting_requests"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "pair", name="uq_mission_meeting_requests_pair"),
        sa.CheckConstraint(f"status IN ({_in(RequestStatus)})", name="status"),
        sa.CheckConstraint("from_id <> to_id", name="two_participants"),
    )

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("mission_events.id", ondelete="CASCADE"))
    from_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_participants.id", ondelete="CASCADE"), index=True
    )
    to_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_participants.id", ondelete="CASCADE"), index=True
    )
    pair: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[text]
    must_meet: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=RequestStatus.PENDING)
    decline_reason: Mapped[text]  # visible to staff only
    proposed_by_staff: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]
    answered_at: Mapped[dt.datetime | None]

    event: Mapped[MissionEvent] = relationship()
    requester: Mapped[Participant] = relationship(foreign_keys=[from_id])
    requested: Mapped[Participant] = relationship(foreign_keys=[to_id])

    @staticmethod
    def pair_of(first_id: int, second_id: int) -> str:
        low, high = sorted((first_id, second_id))
        return f"{low}-{high}"


class Meeting(db.Model):
    """A scheduled meeting of an accepted request: a slot, and a table or online.

    ``published``: participants have seen it in their agendas; a new scheduling run keeps
    it where it is unless staff ask for a full re-plan.
    """

    __tablename__ = "mission_meetings"
    __table_args__ = (
        sa.UniqueConstraint(
            "event_id", "starts_at", "table_number", name="uq_mission_meetings_table"
        ),
        sa.CheckConstraint("ends_at > starts_at", name="times"),
        sa.CheckConstraint(
            "(online AND table_number IS NULL) OR (NOT online AND table_number >= 1)",
            name="place",
        ),
    )

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_events.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_meeting_requests.id", ondelete="CASCADE"), unique=True
    )
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    table_number: Mapped[int | None]  # from 1; None when online
    online: Mapped[bool] = mapped_column(default=False)
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]
    # Set on every change (a move by hand): the .ics SEQUENCE grows with it, so calendars
    # replace the old time. None until first changed.
    updated_at: Mapped[dt.datetime | None] = mapped_column(onupdate=utc_now)

    request: Mapped[MeetingRequest] = relationship()

    @property
    def changed_at(self) -> dt.datetime:
        return self.updated_at or self.created_at


class Attendance(StrEnum):
    HELD = "held"
    NO_SHOW = "no-show"


class Rating(StrEnum):
    """What a side says came of a meeting, worst to best."""

    NOT_HELD = "not-held"  # did not take place
    NO_INTEREST = "no-interest"
    INTERESTING = "interesting"
    COOPERATION = "cooperation"  # cooperation possible


class MeetingOutcome(db.Model):
    """One side's word on a meeting: held or no-show, a rating and a note only it sees.

    Keyed by the request, not the meeting row, because a re-plan re-creates meetings.
    ``introduction_id``: the introduction opened when both sides said "cooperation
    possible", set on both sides' rows.
    """

    __tablename__ = "mission_meeting_outcomes"
    __table_args__ = (
        sa.UniqueConstraint(
            "request_id", "participant_id", name="uq_mission_meeting_outcomes_once"
        ),
        sa.CheckConstraint(f"attendance IN ({_in(Attendance)})", name="attendance"),
        sa.CheckConstraint(f"rating IN ({_in(Rating)})", name="rating"),
    )

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_meeting_requests.id", ondelete="CASCADE")
    )
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_participants.id", ondelete="CASCADE"), index=True
    )
    attendance: Mapped[str] = mapped_column(sa.String(8))
    rating: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[text]  # private to the side that wrote it
    # The member who rated: their "cooperation possible" is their side's consent.
    rated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    introduction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("introductions.id", ondelete="SET NULL")
    )
    created_at: Mapped[timestamp]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class AgendaReminder(db.Model):
    """A day-before reminder sent: one per participant and local meeting day, ever."""

    __tablename__ = "mission_agenda_reminders"

    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mission_participants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    sent_at: Mapped[timestamp]
