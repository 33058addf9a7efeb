"""Events and their schedules: rows in, the scheduler's plain data, rows out.

Services flush and never commit; the CLI (and later the pages) commit once.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import zoneinfo
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.cleaning import one_line
from portal.db import list_contains, utc_now
from portal.extensions import db
from portal.i18n.formatting import wall_time
from portal.missions.agenda import pattern_problem
from portal.missions.agenda_mail import mail_agenda_changes
from portal.missions.models import (
    AttendanceMode,
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)
from portal.missions.scheduler import (
    DEFAULT_TIME_LIMIT,
    MESSAGES,
    REASONS,
    Attendee,
    Placement,
    Problem,
    Request,
    Schedule,
    Slot,
    Unplaced,
    Violation,
    make_slots,
    schedule,
    violations,
)
from portal.organizations.models import Organization, OrganizationKind, VerificationStatus
from portal.organizations.services import new_unique_ref
from portal.signals import meetings_scheduled
from portal.vocab import COUNTRY_NAMES, SECTORS


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


def unplaced_reason(item: Unplaced, names: Mapping[str, str]) -> str:
    """Why ``item`` is not placed, in the reader's language, the sides by name (``names``:
    organization names by reference). Without a request, English, as ``item.reason``."""
    return gettext(REASONS[item.why], **item.values(names))


def organization_names(event: MissionEvent) -> dict[str, str]:
    """The participants' organization names by reference: the scheduler speaks in
    references, pages in names."""
    return {p.organization.ref: p.organization.name for p in event.participants}


def violation_text(violation: Violation, names: Mapping[str, str]) -> str:
    """A broken rule as a page shows it, in the reader's language: what breaks it (the
    sides by name, ``names`` as ``organization_names`` gives them; a slot's start on the
    event's clock, written the reader's way), then the rule. Without a request, English,
    as ``str(violation)`` but with names."""
    message = gettext(MESSAGES[violation.rule], **violation.values(names, when=wall_time))
    return gettext("%(message)s (%(rule)s)", message=message, rule=gettext(violation.rule.value))


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


def publish(event: MissionEvent, actor: User | None = None) -> int:
    """Mark every meeting of the event published (later runs keep them where they are)
    and mail each participant whose agenda this makes new or different, and no one else
    (``agenda_mail``); hand moves and cancels on the grid mail their own changes.
    Sends ``meetings_scheduled`` with the meetings it published. Returns how many."""
    newly = list(
        db.session.scalars(
            sa.select(Meeting)
            .where(Meeting.event_id == event.id, Meeting.published.is_(False))
            .order_by(Meeting.id)
        )
    )
    if not newly:
        mail_agenda_changes(event)
        return 0
    db.session.execute(
        sa.update(Meeting)
        .where(Meeting.id.in_([meeting.id for meeting in newly]))
        .values(published=True)
    )
    mail_agenda_changes(event)
    meetings_scheduled.send(event, meetings=newly, change="published", actor=actor)
    return len(newly)


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


# --- staff create and edit events ------------------------------------------------------

REF_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
# "2027-03-09 09:00-12:00", or a session over midnight: "2027-03-09 22:00 - 2027-03-10 01:00".
_SESSION_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})\s*-\s*(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}:\d{2})$"
)


class EventError(ValueError):
    """A change to an event that breaks a rule; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class EventValues:
    """What staff type into the event form, checked by ``check_event_values``."""

    name: str
    time_zone: str
    sessions: str  # one session a line, as ``sessions_text`` writes them
    meeting_minutes: int
    ref: str = ""
    city: str = ""
    country: str = ""
    venue: str = ""
    tables: int = 0
    online: bool = False
    registration_closes: dt.date | None = None
    join_link_pattern: str = ""


def sessions_text(sessions: list[dict[str, str]]) -> str:
    """The sessions as the form shows them: one a line, the end's date only if it differs."""
    lines = []
    for session in sessions:
        start, end = session["start"], session["end"]
        same_day = start[:10] == end[:10]
        lines.append(f"{start[:10]} {start[11:]}-{end[11:]}" if same_day else f"{start} - {end}")
    return "\n".join(line.replace("T", " ") for line in lines)


def parse_sessions(text: str) -> list[dict[str, str]]:
    """Sessions from the form's lines, in the order typed (participants name them by
    index); refuses a bad line, an empty block and overlapping blocks, naming them."""
    sessions: list[tuple[int, dt.datetime, dt.datetime]] = []
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise EventError(
            gettext("Give at least one session, e.g. 2027-03-09 09:00-12:00."), "sessions"
        )
    for number, line in enumerate(lines, start=1):
        match = _SESSION_LINE.match(line)
        try:
            if match is None:
                raise ValueError
            day, start, end_day, end = match.groups()
            begins = dt.datetime.fromisoformat(f"{day}T{start.zfill(5)}")
            ends = dt.datetime.fromisoformat(f"{end_day or day}T{end.zfill(5)}")
        except ValueError:
            raise EventError(
                gettext(
                    "Line %(number)s (“%(line)s”) is not a session such as 2027-03-09 09:00-12:00.",
                    number=number,
                    line=line[:40],
                ),
                "sessions",
            ) from None
        if ends <= begins:
            raise EventError(
                gettext("Session %(number)s ends before it starts.", number=number), "sessions"
            )
        sessions.append((number, begins, ends))
    ordered = sorted(sessions, key=lambda s: s[1])
    for earlier, later in itertools.pairwise(ordered):
        if later[1] < earlier[2]:
            first, second = sorted((earlier[0], later[0]))
            raise EventError(
                gettext("Sessions %(first)s and %(second)s overlap.", first=first, second=second),
                "sessions",
            )
    return [
        {"start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}"}
        for _, start, end in sessions
    ]


def is_time_zone(name: str) -> bool:
    return bool(name) and name in _zones()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _checked(values: EventValues, event: MissionEvent | None) -> dict[str, Any]:
    """The columns of an event from the form's values, or EventError for the first bad one."""
    name = one_line(values.name)
    if not name:
        raise EventError(gettext("Give the event a name."), "name")
    ref = values.ref.strip()
    if ref:
        if not REF_PATTERN.match(ref):
            raise EventError(
                gettext("Use 1-64 letters, digits, dots, dashes or underscores."), "ref"
            )
        other = find_event(ref)
        if other is not None and other is not event:
            raise EventError(
                gettext("Another event already has the reference “%(ref)s”.", ref=ref), "ref"
            )
    elif event is not None:
        ref = event.ref
    else:
        ref = new_unique_ref(MissionEvent, name)
    country = values.country.strip().upper()
    if country and not COUNTRY_PATTERN.match(country):
        raise EventError(gettext("Give a two-letter country code such as TH."), "country")
    time_zone = values.time_zone.strip()
    if not is_time_zone(time_zone):
        raise EventError(gettext("Give an IANA time zone such as Asia/Bangkok."), "time_zone")
    sessions = parse_sessions(values.sessions)
    if not 10 <= values.meeting_minutes <= 120:
        raise EventError(gettext("A meeting lasts from 10 to 120 minutes."), "meeting_minutes")
    if not 0 <= values.tables <= 1000:
        raise EventError(gettext("Give from 0 to 1000 tables."), "tables")
    if values.tables == 0 and not values.online:
        raise EventError(
            gettext("With no tables, allow online meetings or no one can meet."), "tables"
        )
    pattern = values.join_link_pattern.strip()
    problem = pattern_problem(pattern)  # the rule the agendas apply when making links
    if problem is not None:
        raise EventError(f"{problem[0].upper()}{problem[1:]}.", "join_link_pattern")
    if event is not None:
        _check_participants_fit(event, len(sessions), values.online)
    return {
        "ref": ref,
        "name": name,
        "city": one_line(values.city),
        "country": country,
        "venue": one_line(values.venue),
        "time_zone": time_zone,
        "sessions": sessions,
        "meeting_minutes": values.meeting_minutes,
        "tables": values.tables,
        "online": values.online,
        "registration_closes": values.registration_closes,
        "join_link_pattern": pattern,
    }


def _check_participants_fit(event: MissionEvent, sessions: int, online: bool) -> None:
    """An edit may not leave a participant attending a session that is gone, or online at
    an event that no longer allows it."""
    for participant in event.participants:
        gone = [i + 1 for i in participant.attends or [] if i >= sessions]
        if gone:
            raise EventError(
                gettext(
                    "%(name)s attends session %(number)s; keep it, or change their "
                    "registration first.",
                    name=participant.organization.name,
                    number=gone[0],
                ),
                "sessions",
            )
        if participant.online and not online:
            raise EventError(
                gettext(
                    "%(name)s takes part online; change their registration first.",
                    name=participant.organization.name,
                ),
                "online",
            )


def create_event(values: EventValues) -> MissionEvent:
    """A new event from the staff form (flushed)."""
    event = MissionEvent(**_checked(values, None))
    db.session.add(event)
    db.session.flush()
    return event


def update_event(event: MissionEvent, values: EventValues) -> MissionEvent:
    """Change an event; stored meetings that no longer fit show as broken rules on the
    grid until staff schedule again."""
    for name, value in _checked(values, event).items():
        setattr(event, name, value)
    db.session.flush()
    return event


def event_values(event: MissionEvent) -> dict[str, Any]:
    """The form's initial data for an existing event."""
    return {
        "ref": event.ref,
        "name": event.name,
        "city": event.city,
        "country": event.country,
        "venue": event.venue,
        "time_zone": event.time_zone,
        "sessions": sessions_text(event.sessions),
        "meeting_minutes": event.meeting_minutes,
        "tables": event.tables,
        "online": event.online,
        "registration_closes": event.registration_closes,
        "join_link_pattern": event.join_link_pattern,
    }


def local_today(event: MissionEvent, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the event is held: the deadline day ends at local midnight."""
    return (now or utc_now()).astimezone(zoneinfo.ZoneInfo(event.time_zone)).date()


def registration_open(event: MissionEvent, now: dt.datetime | None = None) -> bool:
    """Open until the end of the deadline day in the event's zone (no deadline: open)."""
    closes = event.registration_closes
    return closes is None or local_today(event, now) <= closes


def session_label(event: MissionEvent, index: int) -> str:
    session = event.sessions[index]
    return sessions_text([session])


def slot_times(event: MissionEvent) -> list[Slot]:
    return make_slots(event.session_times(), event.meeting_minutes, event.time_zone)


# --- the public event page -------------------------------------------------------------


@dataclass
class ParticipantFilters:
    country: str = ""
    sector: str = ""
    kind: str = ""
    mode: str = ""
    q: str = ""
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, args: Mapping[str, str]) -> ParticipantFilters:
        """Filters from the query string; a bad value is ignored and the reader told."""
        filters = cls(q=(args.get("q") or "").strip()[:100])
        country = (args.get("country") or "").strip().upper()
        if country in COUNTRY_NAMES:
            filters.country = country
        elif country:
            filters.warnings.append(
                gettext("There is no country “%(value)s”; showing all.", value=country[:10])
            )
        sector = (args.get("sector") or "").strip()
        if sector in SECTORS:
            filters.sector = sector
        elif sector:
            filters.warnings.append(
                gettext("There is no sector “%(value)s”; showing all sectors.", value=sector[:40])
            )
        kind = (args.get("kind") or "").strip()
        if kind in {k.value for k in OrganizationKind}:
            filters.kind = kind
        elif kind:
            filters.warnings.append(gettext("Kind is vendor or buyer; showing both."))
        mode = (args.get("mode") or "").strip()
        if mode in {m.value for m in AttendanceMode}:
            filters.mode = mode
        elif mode:
            filters.warnings.append(gettext("Attendance is on-site or online; showing both."))
        return filters

    def query_args(self) -> dict[str, str]:
        """The filters in force, for links to other pages of the same list (a bad value
        was dropped, so it is not carried on)."""
        values = {
            "q": self.q,
            "country": self.country,
            "sector": self.sector,
            "kind": self.kind,
            "mode": self.mode,
        }
        return {name: value for name, value in values.items() if value}


def public_participants(event: MissionEvent, filters: ParticipantFilters) -> list[Participant]:
    """The event's participants whose organization is verified (the public directory's
    rule: nothing of an unverified organization is public), by name, filtered."""
    return list(db.session.scalars(public_participants_query(event, filters)))


def public_participants_query(
    event: MissionEvent, filters: ParticipantFilters
) -> sa.Select[tuple[Participant]]:
    """``public_participants`` as a query, for the event page to take a page of it."""
    query = (
        sa.select(Participant)
        .join(Participant.organization)
        .where(
            Participant.event_id == event.id,
            Organization.status == VerificationStatus.VERIFIED,
        )
        .options(selectinload(Participant.organization))
    )
    if filters.country:
        query = query.where(Organization.country == filters.country)
    if filters.sector:
        query = query.where(list_contains(Organization.sectors, filters.sector))
    if filters.kind:
        query = query.where(Organization.kind == filters.kind)
    if filters.mode:
        query = query.where(Participant.mode == filters.mode)
    if filters.q:
        words = [w for w in filters.q.lower().split() if w][:8]
        for word in words:
            query = query.where(
                sa.or_(
                    sa.func.lower(Organization.name).contains(word, autoescape=True),
                    sa.func.lower(Organization.summary).contains(word, autoescape=True),
                    sa.func.lower(Participant.offers).contains(word, autoescape=True),
                    sa.func.lower(Participant.looks_for).contains(word, autoescape=True),
                )
            )
    return query.order_by(sa.func.lower(Organization.name), Participant.id)
