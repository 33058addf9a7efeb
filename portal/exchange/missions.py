"""The exchange format's ``event``, ``participant`` and ``meeting_request`` records.

The importer hands every such line to a ``MissionRecords`` during its checking pass; the
checks that need the whole file or the database (is the event known, is the organization
a participant, is the pair asked twice) run once the pass is over, each error on the line
of the record it is about. The records are few (an event of 1,000 participants and 8,000
requests is about a megabyte), so they are kept from the checking pass and written from
memory after organizations and needs, with Core statements as the importer writes the
rest. The export writes them after needs, events by ref.

Requests: the format's "requested" is the portal's "pending"; the portal's "withdrawn"
and "expired" requests are exported as "declined" (the format has no such states, and
neither is scheduled); a pair is one request whichever way it goes, so re-importing a
request between the same two updates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.db import utc_now
from portal.exchange.records import (
    REF_PATTERN,
    EventRecord,
    MeetingRequestRecord,
    ParticipantRecord,
)
from portal.missions.models import (
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
    RequestStatus,
)
from portal.organizations.models import Organization

_events = MissionEvent.__table__
_participants = Participant.__table__
_requests = MeetingRequest.__table__
_meetings = Meeting.__table__
_organizations = Organization.__table__

CHUNK = 1000

STATUS_FROM_FILE = {
    "requested": RequestStatus.PENDING.value,
    "accepted": RequestStatus.ACCEPTED.value,
    "declined": RequestStatus.DECLINED.value,
}
STATUS_TO_FILE = {
    RequestStatus.PENDING.value: "requested",
    RequestStatus.ACCEPTED.value: "accepted",
    RequestStatus.DECLINED.value: "declined",
    RequestStatus.WITHDRAWN.value: "declined",
    RequestStatus.EXPIRED.value: "declined",
}

Fail = Callable[[int, str], None]


@dataclass
class _EventFacts:
    """What participants are checked against: from the file's record or the database."""

    sessions: int
    online: bool


@dataclass
class MissionRecords:
    """The event, participant and meeting_request lines of one file."""

    events: dict[str, tuple[int, EventRecord | None]] = field(default_factory=dict)
    participants: list[tuple[int, ParticipantRecord]] = field(default_factory=list)
    requests: list[tuple[int, MeetingRequestRecord]] = field(default_factory=list)
    # Lines of records whose own checks failed, by what they name, for better messages.
    bad_participants: dict[tuple[str, str], int] = field(default_factory=dict)
    good: dict[str, int] = field(
        default_factory=lambda: {"event": 0, "participant": 0, "meeting_request": 0}
    )

    def see(self, line: int, value: Any, record: Any, fail: Fail) -> None:
        """Note one line (already checked on its own) whose type is one of ours."""
        kind = value.get("type")
        if kind == "event":
            ref = value.get("ref")
            if not isinstance(ref, str) or not REF_PATTERN.match(ref):
                return
            if ref in self.events:
                fail(line, f'event "{ref}": ref duplicates the event on line {self.events[ref][0]}')
                return
            self.events[ref] = (line, record if isinstance(record, EventRecord) else None)
        elif kind == "participant":
            if isinstance(record, ParticipantRecord):
                self.participants.append((line, record))
            elif isinstance(value.get("event"), str) and isinstance(value.get("organization"), str):
                self.bad_participants[(value["event"], value["organization"])] = line
        elif kind == "meeting_request" and isinstance(record, MeetingRequestRecord):
            self.requests.append((line, record))

    def check(
        self,
        session: Session,
        organization_lines: dict[str, int],
        good_organizations: set[str],
        bad_lines: set[int],
        fail: Fail,
    ) -> None:
        """The checks across records and against the database, after the whole file."""
        events = self._event_facts(session, bad_lines)
        known_organizations = good_organizations | _existing_refs(
            session, {p.organization for _, p in self.participants} - good_organizations
        )
        # (event, organization) -> line of the good participant record in the file
        in_file: dict[tuple[str, str], int] = {}
        for line, record in self.participants:
            prefix = f'participant "{record.organization}" of event "{record.event}": '
            problems = []
            facts = events.get(record.event)
            if facts is None:
                problems.append(self._missing_event(record.event))
            if record.organization not in known_organizations:
                if record.organization in organization_lines:
                    problems.append(
                        f'organization "{record.organization}" is not imported: its line '
                        f"{organization_lines[record.organization]} has errors"
                    )
                else:
                    problems.append(
                        f'organization "{record.organization}" is not an organization in the '
                        "file or the portal"
                    )
            key = (record.event, record.organization)
            if key in in_file:
                problems.append(f"the organization takes part once; see line {in_file[key]}")
            if facts is not None:
                if record.mode == "online" and not facts.online:
                    problems.append(
                        f'mode "online" needs an event with online: true; event '
                        f'"{record.event}" is on site only'
                    )
                wrong = [i for i in record.attends or [] if i >= facts.sessions]
                if wrong:
                    problems.append(
                        f"attends session {wrong[0]}, but the event has {facts.sessions} "
                        f"session(s), numbered from 0"
                    )
            for problem in problems:
                fail(line, prefix + problem)
            if not problems:
                in_file[key] = line
        in_database = _existing_participants(
            session,
            {r.event for _, r in self.requests},
            {org for _, r in self.requests for org in (r.requester, r.requested)},
        )
        failed = set(self.bad_participants) | {
            (p.event, p.organization) for line, p in self.participants if line in bad_lines
        }
        pairs: dict[tuple[str, frozenset[str]], int] = {}
        for line, record in self.requests:
            prefix = (
                f'meeting_request "{record.requester}" -> "{record.requested}" of event '
                f'"{record.event}": '
            )
            problems = []
            if record.event not in events:
                problems.append(self._missing_event(record.event))
            else:
                for org in (record.requester, record.requested):
                    key = (record.event, org)
                    if key in in_file or key in in_database:
                        continue
                    if key in failed:
                        problems.append(
                            f'"{org}" is not imported as a participant: its line has errors'
                        )
                    else:
                        problems.append(f'"{org}" is not a participant of the event')
            pair = (record.event, frozenset((record.requester, record.requested)))
            if pair in pairs:
                problems.append(f"the pair has a request already on line {pairs[pair]}")
            for problem in problems:
                fail(line, prefix + problem)
            if not problems:
                pairs[pair] = line
        self.good = {
            "event": sum(
                1 for line, record in self.events.values() if record and line not in bad_lines
            ),
            "participant": sum(1 for line, _ in self.participants if line not in bad_lines),
            "meeting_request": sum(1 for line, _ in self.requests if line not in bad_lines),
        }

    def _missing_event(self, ref: str) -> str:
        if ref in self.events:
            return f'event "{ref}" is not imported: its line {self.events[ref][0]} has errors'
        return f'event "{ref}" is not an event in the file or the portal'

    def _event_facts(self, session: Session, bad_lines: set[int]) -> dict[str, _EventFacts]:
        facts: dict[str, _EventFacts] = {}
        wanted = {p.event for _, p in self.participants} | {r.event for _, r in self.requests}
        for ref, (line, record) in self.events.items():
            if record is not None and line not in bad_lines:
                facts[ref] = _EventFacts(len(record.sessions), record.online)
        missing = wanted - set(facts) - set(self.events)
        for chunk in _chunks(sorted(missing)):
            rows = session.execute(
                sa.select(_events.c.ref, _events.c.sessions, _events.c.online).where(
                    _events.c.ref.in_(chunk)
                )
            )
            for ref, sessions, online in rows:
                facts[ref] = _EventFacts(len(sessions or []), bool(online))
        return facts

    @property
    def importable(self) -> int:
        return sum(self.good.values())


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _existing_refs(session: Session, refs: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(refs)):
        found.update(
            session.scalars(sa.select(_organizations.c.ref).where(_organizations.c.ref.in_(chunk)))
        )
    return found


def _existing_participants(
    session: Session, events: set[str], organizations: set[str]
) -> set[tuple[str, str]]:
    """(event ref, organization ref) of the database's participants among those named."""
    if not events or not organizations:
        return set()
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted(organizations)):
        query = (
            sa.select(_events.c.ref, _organizations.c.ref)
            .select_from(_participants)
            .join(_events, _events.c.id == _participants.c.event_id)
            .join(_organizations, _organizations.c.id == _participants.c.organization_id)
            .where(_events.c.ref.in_(sorted(events)), _organizations.c.ref.in_(chunk))
        )
        found.update((event, org) for event, org in session.execute(query))
    return found


# --- writing ------------------------------------------------------------------------------


@dataclass
class MissionCounts:
    events: int = 0
    participants: int = 0
    meeting_requests: int = 0


def write(session: Session, records: MissionRecords, bad_lines: set[int]) -> MissionCounts:
    """Write the good records (organizations are written already). Never commits."""
    counts = MissionCounts()
    now = utc_now()
    event_ids = _write_events(session, records, bad_lines, now, counts)
    participant_ids = _write_participants(session, records, bad_lines, event_ids, now, counts)
    _write_requests(session, records, bad_lines, event_ids, participant_ids, now, counts)
    return counts


def _write_events(
    session: Session,
    records: MissionRecords,
    bad_lines: set[int],
    now: dt.datetime,
    counts: MissionCounts,
) -> dict[str, int]:
    good = [r for line, r in records.events.values() if r is not None and line not in bad_lines]
    wanted = sorted(
        {p.event for _, p in records.participants}
        | {r.event for _, r in records.requests}
        | {r.ref for r in good}
    )
    ids: dict[str, int] = {}
    for chunk in _chunks(wanted):
        ids.update(
            session.execute(
                sa.select(_events.c.ref, _events.c.id).where(_events.c.ref.in_(chunk))
            ).all()
        )
    for record in good:
        row = {
            "name": record.name,
            "city": record.city,
            "country": record.country,
            "time_zone": record.time_zone,
            "sessions": [
                {"start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}"}
                for start, end in record.sessions
            ],
            "meeting_minutes": record.meeting_minutes,
            "tables": record.tables,
            "online": record.online,
            "registration_closes": record.registration_closes,
            "updated_at": now,
        }
        if record.ref in ids:
            session.execute(sa.update(_events).where(_events.c.id == ids[record.ref]).values(row))
        else:
            row.update(ref=record.ref, venue="", join_link_pattern="", created_at=now)
            ids[record.ref] = session.execute(
                sa.insert(_events).returning(_events.c.id), [row]
            ).scalar_one()
        counts.events += 1
    return ids


def _write_participants(
    session: Session,
    records: MissionRecords,
    bad_lines: set[int],
    event_ids: dict[str, int],
    now: dt.datetime,
    counts: MissionCounts,
) -> dict[tuple[str, str], int]:
    """Returns (event ref, organization ref) -> participant id for every participant the
    file's requests name."""
    good = [r for line, r in records.participants if line not in bad_lines]
    names = sorted(
        {p.organization for p in good}
        | {o for _, r in records.requests for o in (r.requester, r.requested)}
    )
    org_ids: dict[str, int] = {}
    for chunk in _chunks(names):
        org_ids.update(
            session.execute(
                sa.select(_organizations.c.ref, _organizations.c.id).where(
                    _organizations.c.ref.in_(chunk)
                )
            ).all()
        )
    by_id = {v: k for k, v in org_ids.items()}
    event_refs = {v: k for k, v in event_ids.items()}
    existing: dict[tuple[str, str], int] = {}
    if event_ids:
        for chunk in _chunks(sorted(org_ids.values())):
            rows = session.execute(
                sa.select(
                    _participants.c.event_id, _participants.c.organization_id, _participants.c.id
                ).where(
                    _participants.c.event_id.in_(sorted(event_ids.values())),
                    _participants.c.organization_id.in_(chunk),
                )
            )
            for event_id, org_id, pid in rows:
                existing[(event_refs[event_id], by_id[org_id])] = pid
    new_rows, changed_rows = [], []
    for record in good:
        row = {"attends": record.attends, "mode": record.mode, "max_meetings": record.max_meetings}
        key = (record.event, record.organization)
        if key in existing:
            changed_rows.append({**row, "participant_id": existing[key]})
        else:
            new_rows.append(
                {
                    **row,
                    "event_id": event_ids[record.event],
                    "organization_id": org_ids[record.organization],
                    "offers": "",
                    "looks_for": "",
                    "time_zone": "",
                    "registered_at": now,
                }
            )
    if changed_rows:
        session.execute(
            sa.update(_participants).where(_participants.c.id == sa.bindparam("participant_id")),
            changed_rows,
        )
    for chunk in _chunks(new_rows):
        inserted = session.execute(
            sa.insert(_participants).returning(
                _participants.c.event_id, _participants.c.organization_id, _participants.c.id
            ),
            chunk,
        )
        for event_id, org_id, pid in inserted:
            existing[(event_refs[event_id], by_id[org_id])] = pid
    counts.participants += len(good)
    return existing


def _write_requests(
    session: Session,
    records: MissionRecords,
    bad_lines: set[int],
    event_ids: dict[str, int],
    participant_ids: dict[tuple[str, str], int],
    now: dt.datetime,
    counts: MissionCounts,
) -> None:
    good = [r for line, r in records.requests if line not in bad_lines]
    rows = []
    for record in good:
        first = participant_ids[(record.event, record.requester)]
        second = participant_ids[(record.event, record.requested)]
        status = STATUS_FROM_FILE[record.status]
        rows.append(
            {
                "event_id": event_ids[record.event],
                "from_id": first,
                "to_id": second,
                "pair": MeetingRequest.pair_of(first, second),
                "message": record.message,
                "must_meet": record.priority == "must",
                "status": status,
                "answered_at": None if status == RequestStatus.PENDING else now,
            }
        )
    existing: dict[tuple[int, str], tuple[int, str]] = {}
    for event_id in sorted({row["event_id"] for row in rows}):
        pairs = sorted({row["pair"] for row in rows if row["event_id"] == event_id})
        for chunk in _chunks(pairs):
            query = sa.select(_requests.c.pair, _requests.c.id, _requests.c.status).where(
                _requests.c.event_id == event_id, _requests.c.pair.in_(chunk)
            )
            for pair, rid, status in session.execute(query):
                existing[(event_id, pair)] = (rid, status)
    new_rows, changed_rows, unscheduled = [], [], []
    for row in rows:
        found = existing.get((row["event_id"], row["pair"]))
        if found is None:
            new_rows.append(
                {**row, "decline_reason": "", "proposed_by_staff": False, "created_at": now}
            )
            continue
        rid, status = found
        if status == row["status"]:
            row["answered_at"] = None  # unchanged answer: keep its time (see below)
        changed_rows.append({**row, "request_id": rid})
        if row["status"] != RequestStatus.ACCEPTED:
            unscheduled.append(rid)
    for chunk in _chunks(changed_rows):
        keep_time = [r for r in chunk if r["answered_at"] is None]
        new_time = [r for r in chunk if r["answered_at"] is not None]
        fields = ("from_id", "to_id", "message", "must_meet", "status")
        statement = sa.update(_requests).where(_requests.c.id == sa.bindparam("request_id"))
        if keep_time:
            session.execute(
                statement.values({f: sa.bindparam(f) for f in fields}),
                [{k: r[k] for k in (*fields, "request_id")} for r in keep_time],
            )
        if new_time:
            session.execute(
                statement.values({f: sa.bindparam(f) for f in (*fields, "answered_at")}),
                [{k: r[k] for k in (*fields, "answered_at", "request_id")} for r in new_time],
            )
    for chunk in _chunks(new_rows):
        session.execute(sa.insert(_requests), chunk)
    # A request no longer accepted has no meeting any more.
    for chunk in _chunks(unscheduled):
        session.execute(sa.delete(_meetings).where(_meetings.c.request_id.in_(chunk)))
    counts.meeting_requests += len(good)


# --- export -------------------------------------------------------------------------------


def event_records(session: Session) -> Iterator[dict[str, Any]]:
    for event in session.scalars(sa.select(MissionEvent).order_by(MissionEvent.ref)):
        record: dict[str, Any] = {"type": "event", "ref": event.ref, "name": event.name}
        if event.city:
            record["city"] = event.city
        if event.country:
            record["country"] = event.country
        record.update(
            time_zone=event.time_zone,
            sessions=[{"start": s["start"], "end": s["end"]} for s in event.sessions],
            meeting_minutes=event.meeting_minutes,
            tables=event.tables,
            online=event.online,
            registration_closes=(
                event.registration_closes.isoformat() if event.registration_closes else None
            ),
        )
        yield record


def participant_records(session: Session) -> Iterator[dict[str, Any]]:
    query = (
        sa.select(
            _events.c.ref,
            _organizations.c.ref,
            _participants.c.attends,
            _participants.c.mode,
            _participants.c.max_meetings,
        )
        .select_from(_participants)
        .join(_events, _events.c.id == _participants.c.event_id)
        .join(_organizations, _organizations.c.id == _participants.c.organization_id)
        .order_by(_events.c.ref, _organizations.c.ref)
    )
    for event, organization, attends, mode, cap in session.execute(query):
        record: dict[str, Any] = {
            "type": "participant",
            "event": event,
            "organization": organization,
        }
        if attends is not None:
            record["attends"] = list(attends)
        record["mode"] = mode
        if cap is not None:
            record["max_meetings"] = cap
        yield record


def meeting_request_records(session: Session) -> Iterator[dict[str, Any]]:
    requester = _participants.alias("requester")
    requested = _participants.alias("requested")
    requester_org = _organizations.alias("requester_org")
    requested_org = _organizations.alias("requested_org")
    query = (
        sa.select(
            _events.c.ref,
            requester_org.c.ref,
            requested_org.c.ref,
            _requests.c.status,
            _requests.c.must_meet,
            _requests.c.message,
        )
        .select_from(_requests)
        .join(_events, _events.c.id == _requests.c.event_id)
        .join(requester, requester.c.id == _requests.c.from_id)
        .join(requested, requested.c.id == _requests.c.to_id)
        .join(requester_org, requester_org.c.id == requester.c.organization_id)
        .join(requested_org, requested_org.c.id == requested.c.organization_id)
        .order_by(_events.c.ref, requester_org.c.ref, requested_org.c.ref)
    )
    for event, first, second, status, must, message in session.execute(query):
        record: dict[str, Any] = {
            "type": "meeting_request",
            "event": event,
            "from": first,
            "to": second,
            "status": STATUS_TO_FILE[status],
            "priority": "must" if must else "normal",
        }
        if message:
            record["message"] = message
        yield record
