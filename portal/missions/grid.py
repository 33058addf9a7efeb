"""The staff grid of an event's meetings (slots by tables, and online), and moving or
cancelling a meeting by hand under the scheduler's rules (``scheduler.check_move``).

Moving or cancelling a published meeting changes what its two sides were told, so it
queues their "agenda changed" mail (``agenda_mail.mail_agenda_changes``) in the same
transaction: it leaves with the commit, or not at all. A draft meeting is nobody's agenda
yet; its participants hear of it when staff publish.

Services flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.extensions import db
from portal.missions.agenda_mail import mail_agenda_changes
from portal.missions.models import Meeting, MeetingRequest, MissionEvent, Participant
from portal.missions.scheduler import Placement, Slot, Violation, check_move
from portal.missions.services import (
    event_problem,
    organization_names,
    stored_violations,
    violation_text,
)
from portal.signals import meetings_scheduled


class MoveError(ValueError):
    """A move the rules refuse, or a place that does not exist; ``field`` names where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class GridRow:
    slot: Slot
    index: int
    tables: list[Meeting | None]  # table 1 at index 0
    online: list[Meeting] = field(default_factory=list)


@dataclass
class Grid:
    event: MissionEvent
    rows: list[GridRow]
    stray: list[Meeting]  # stored meetings in no slot of the event (it was edited since)
    broken: list[Violation]

    @property
    def meetings(self) -> int:
        placed = sum(1 for row in self.rows for m in row.tables if m is not None)
        return placed + sum(len(row.online) for row in self.rows) + len(self.stray)


def _meetings(event: MissionEvent) -> list[Meeting]:
    return list(
        db.session.scalars(
            sa.select(Meeting)
            .where(Meeting.event_id == event.id)
            .options(
                selectinload(Meeting.request)
                .selectinload(MeetingRequest.requester)
                .selectinload(Participant.organization),
                selectinload(Meeting.request)
                .selectinload(MeetingRequest.requested)
                .selectinload(Participant.organization),
            )
            .order_by(Meeting.starts_at, Meeting.table_number)
        )
    )


def event_grid(event: MissionEvent) -> Grid:
    """Every slot with its tables and online meetings, and every broken rule."""
    problem = event_problem(event, replan=True).problem
    rows = [GridRow(slot, i, [None] * event.tables) for i, slot in enumerate(problem.slots)]
    by_start = {row.slot.start: row for row in rows}
    stray: list[Meeting] = []
    for meeting in _meetings(event):
        row = by_start.get(meeting.starts_at)
        table = meeting.table_number
        if row is None:
            stray.append(meeting)
        elif table is None:
            row.online.append(meeting)
        elif 1 <= table <= event.tables and row.tables[table - 1] is None:
            row.tables[table - 1] = meeting
        else:
            stray.append(meeting)
    return Grid(event, rows, stray, stored_violations(event))


def find_meeting(event: MissionEvent, meeting_id: int) -> Meeting | None:
    meeting = db.session.get(Meeting, meeting_id)
    return meeting if meeting is not None and meeting.event_id == event.id else None


def move_meeting(
    event: MissionEvent,
    meeting: Meeting,
    slot: int,
    table: int | None,
    actor: User | None = None,
) -> Meeting:
    """Move a meeting to another slot and table (None: online), or refuse with the rule
    the move would break; the rest of the schedule stays as it is. A published meeting's
    two sides are mailed their changed agendas."""
    loaded = event_problem(event, replan=True)
    problem = loaded.problem
    if not 0 <= slot < len(problem.slots):
        raise MoveError(gettext("Choose one of the event's slots."), "slot")
    if meeting.request_id not in loaded.requests:
        raise MoveError(
            gettext("This meeting's request is no longer accepted; cancel the meeting.")
        )
    slot_index = {s.start: i for i, s in enumerate(problem.slots)}
    placements = [
        Placement(m.request_id, slot_index.get(m.starts_at, -1), m.table_number)
        for m in loaded.meetings.values()
        if m.request_id in loaded.requests
    ]
    broken = check_move(problem, placements, meeting.request_id, slot, table)
    if broken is not None:
        rule = violation_text(broken, organization_names(event))
        raise MoveError(gettext("Refused: %(rule)s.", rule=rule))
    target = problem.slots[slot]
    meeting.starts_at = target.start.astimezone(dt.UTC)
    meeting.ends_at = target.end.astimezone(dt.UTC)
    meeting.table_number = table
    meeting.online = table is None
    db.session.flush()
    if meeting.published:
        mail_agenda_changes(event)
        meetings_scheduled.send(event, meetings=[meeting], change="moved", actor=actor)
    return meeting


def cancel_meeting(event: MissionEvent, meeting: Meeting, actor: User | None = None) -> None:
    """Take a meeting off the schedule. Its request stays accepted, so the next
    scheduling run may place it again; to stop that, decline or withdraw the request.
    A published meeting's two sides are mailed their changed agendas."""
    published = meeting.published
    meeting.request  # noqa: B018 - loaded while the row exists: the signal's receivers read it
    db.session.delete(meeting)
    db.session.flush()
    if published:
        mail_agenda_changes(event)
        meetings_scheduled.send(event, meetings=[meeting], change="cancelled", actor=actor)
