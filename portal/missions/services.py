"""Events and their schedules: rows in, the scheduler's plain data, rows out.

Services flush and never commit; the CLI (and later the pages) commit once.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.missions.agenda_mail import mail_agenda_changes
from portal.missions.models import (
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)
from portal.missions.scheduler import (
    DEFAULT_TIME_LIMIT,
    Attendee,
    Placement,
    Problem,
    Request,
    Schedule,
    Violation,
    make_slots,
    schedule,
    violations,
)


def find_event(ref: str) -> MissionEvent | None:
    return db.session.scalar(sa.select(MissionEvent).where(MissionEvent.ref == ref))


@dataclass(frozen=True)
class EventSummary:
    event: MissionEvent
    participants: int
    requests: Counter[str]
    meetings: int
    published: int


def summaries() -> list[EventSummary]:
    """Every event, by first session, with its counts (four grouped queries in all)."""
    events = list(db.session.scalars(sa.select(MissionEvent).order_by(MissionEvent.ref)))
    participants = dict(
        db.session.execute(
            sa.select(Participant.event_id, sa.func.count()).group_by(Participant.event_id)
        ).all()
    )
    by_status: dict[int, Counter[str]] = {}
    for event_id, status, count in db.session.execute(
        sa.select(MeetingRequest.event_id, MeetingRequest.status, sa.func.count()).group_by(
            MeetingRequest.event_id, MeetingRequest.status
        )
    ):
        by_status.setdefault(event_id, Counter())[status] = count
    meetings: dict[int, tuple[int, int]] = {
        event_id: (total, int(published or 0))
        for event_id, total, published in db.session.execute(
            sa.select(
                Meeting.event_id,
                sa.func.count(),
                sa.func.sum(sa.case((Meeting.published, 1), else_=0)),
            ).group_by(Meeting.event_id)
        )
    }
    events.sort(key=lambda e: (e.sessions[0]["start"] if e.sessions else "", e.ref))
    return [
        EventSummary(
            event,
            participants.get(event.id, 0),
            by_status.get(event.id, Counter()),
            *meetings.get(event.id, (0, 0)),
        )
        for event in events
    ]


@dataclass
class EventProblem:
    """An event's scheduling problem and how to read its keys back."""

    event: MissionEvent
    problem: Problem
    requests: dict[int, MeetingRequest]  # by id: the scheduler's request keys
    meetings: dict[int, Meeting]  # the event's stored meetings, by request id


def event_problem(event: MissionEvent, replan: bool = False) -> EventProblem:
    """The event as the scheduler sees it: accepted requests between its participants;
    published meetings are kept where they are unless ``replan``."""
    participants = list(
        db.session.scalars(
            sa.select(Participant)
            .where(Participant.event_id == event.id)
            .options(selectinload(Participant.organization))
        )
    )
    sessions = len(event.sessions)
    by_id = {p.id: p for p in participants}
    attendees = {
        p.organization.ref: Attendee(
            p.organization.ref, p.attended_sessions(sessions), p.online, p.max_meetings
        )
        for p in participants
    }
    accepted = list(
        db.session.scalars(
            sa.select(MeetingRequest)
            .where(
                MeetingRequest.event_id == event.id,
                MeetingRequest.status == RequestStatus.ACCEPTED,
            )
            .order_by(MeetingRequest.id)
        )
    )
    requests = [
        Request(
            r.id, by_id[r.from_id].organization.ref, by_id[r.to_id].organization.ref, r.must_meet
        )
        for r in accepted
    ]
    slots = make_slots(event.session_times(), event.meeting_minutes, event.time_zone)
    slot_index = {slot.start: index for index, slot in enumerate(slots)}
    meetings = {
        m.request_id: m
        for m in db.session.scalars(sa.select(Meeting).where(Meeting.event_id == event.id))
    }
    fixed = []
    if not replan:
        for meeting in meetings.values():
            index = slot_index.get(meeting.starts_at)
            if meeting.published and index is not None:
                fixed.append(Placement(meeting.request_id, index, meeting.table_number))
    problem = Problem(slots, event.tables, event.online, attendees, requests, fixed)
    return EventProblem(event, problem, {r.id: r for r in accepted}, meetings)


@dataclass
class ScheduleResult:
    event: MissionEvent
    problem: Problem
    schedule: Schedule
    kept: int  # published meetings that stayed where they were

    def as_json(self) -> dict[str, Any]:
        """``{"event", "meetings": [{"a", "b", "start", "end", "table", "online"}],
        "unplaced": [{"a", "b", "reason"}]}``; times in the event's zone, with offset."""
        requests = self.problem.request_map()
        meetings = []
        for placement in sorted(
            self.schedule.placements, key=lambda p: (p.slot, p.table is None, p.table or 0)
        ):
            request = requests[placement.request]
            slot = self.problem.slots[placement.slot]
            meetings.append(
                {
                    "a": request.a,
                    "b": request.b,
                    "start": slot.start.isoformat(),
                    "end": slot.end.isoformat(),
                    "table": placement.table,
                    "online": placement.table is None,
                }
            )
        unplaced = [{"a": u.a, "b": u.b, "reason": u.reason} for u in self.schedule.unplaced]
        return {"event": self.event.ref, "meetings": meetings, "unplaced": unplaced}


def schedule_event(
    event: MissionEvent,
    replan: bool = False,
    time_limit: float = DEFAULT_TIME_LIMIT,
    solver: str = "highs",
) -> ScheduleResult:
    """Schedule the event's accepted requests and store the meetings (flushed, not
    committed). Published meetings stay where they are unless ``replan``; every other
    meeting is planned again, and free slots are filled."""
    loaded = event_problem(event, replan)
    problem = loaded.problem
    result = schedule(problem, time_limit=time_limit, solver=solver)
    kept = {p.request for p in problem.fixed} & {p.request for p in result.placements}
    placed = {p.request: p for p in result.placements}
    for request_id, meeting in loaded.meetings.items():
        placement = placed.get(request_id)
        if request_id in kept and placement is not None:
            continue
        db.session.delete(meeting)
    db.session.flush()  # free the tables before the new meetings take them
    for placement in result.placements:
        if placement.request in kept:
            continue
        slot = problem.slots[placement.slot]
        db.session.add(
            Meeting(
                event_id=event.id,
                request_id=placement.request,
                starts_at=slot.start.astimezone(dt.UTC),
                ends_at=slot.end.astimezone(dt.UTC),
                table_number=placement.table,
                online=placement.table is None,
                published=False,
            )
        )
    db.session.flush()
    return ScheduleResult(event, problem, result, len(kept))


def publish(event: MissionEvent) -> int:
    """Mark every meeting of the event published (later runs keep them where they are)
    and mail each participant whose agenda this makes new or different, and no one else
    (``agenda_mail``): publish again after moving meetings by hand to tell those concerned.
    Returns the meetings newly published."""
    result = db.session.execute(
        sa.update(Meeting)
        .where(Meeting.event_id == event.id, Meeting.published.is_(False))
        .values(published=True)
    )
    mail_agenda_changes(event)
    return result.rowcount or 0


def stored_violations(event: MissionEvent) -> list[Violation]:
    """Every rule the event's stored meetings break (after hand changes or new data)."""
    loaded = event_problem(event, replan=True)
    problem = loaded.problem
    slot_index = {slot.start: index for index, slot in enumerate(problem.slots)}
    placements: list[Placement] = []
    for request_id, meeting in loaded.meetings.items():
        key: Hashable = request_id if request_id in loaded.requests else f"#{request_id}"
        placements.append(
            Placement(key, slot_index.get(meeting.starts_at, -1), meeting.table_number)
        )
    return violations(problem, placements)
