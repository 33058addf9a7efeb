"""What an event came to, for trade staff: who registered, what was asked and answered,
which meetings were placed and held, how they were rated and which introductions they led
to; the same figures as a CSV, and one headline line per event for the staff dashboard.

Each family of figures is one query over the whole event (grouped, or one row per meeting
or participant counted in Python), never a query per participant, so the page costs the
same for a 10-participant workshop and a 1,000-participant mission.

How a meeting counts: it is *placed* when a meeting row exists for its request (scheduled
or moved by hand), *held* when at least one side said it was held, *no-show* when a side
said no-show and neither said held, and *not reported* while neither side has said.
Ratings count each side's word, so a meeting both sides rated counts twice.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import sqlalchemy as sa

from portal.cleaning import spreadsheet_safe
from portal.extensions import db
from portal.i18n.lazy import lazy_gettext
from portal.introductions.models import Introduction, IntroState
from portal.missions.models import (
    Attendance,
    AttendanceMode,
    Meeting,
    MeetingOutcome,
    MeetingRequest,
    MissionEvent,
    Participant,
    Rating,
    RequestStatus,
)
from portal.missions.outcomes import RATING_LABELS
from portal.missions.services import summaries
from portal.organizations.models import Organization, OrganizationKind
from portal.vocab import country_name, sector_short_label

# Read in the language of the page (or export) that shows them; the CSV keeps the codes.
KIND_LABELS = {
    OrganizationKind.VENDOR: lazy_gettext("U.S. vendors"),
    OrganizationKind.BUYER: lazy_gettext("ASEAN buyers"),
}
MODE_LABELS = {
    AttendanceMode.ON_SITE: lazy_gettext("On site"),
    AttendanceMode.ONLINE: lazy_gettext("Online"),
}
STATUS_LABELS = {
    RequestStatus.PENDING: lazy_gettext("Waiting for an answer"),
    RequestStatus.ACCEPTED: lazy_gettext("Accepted"),
    RequestStatus.DECLINED: lazy_gettext("Declined"),
    RequestStatus.WITHDRAWN: lazy_gettext("Withdrawn"),
    RequestStatus.EXPIRED: lazy_gettext("Expired unanswered"),
}
NO_COUNTRY = lazy_gettext("Not given")


@dataclass(frozen=True)
class Figure:
    """One counted item: a code (what the CSV keeps), its label (what people read)."""

    key: str
    label: str
    count: int


@dataclass
class Registrations:
    total: int = 0
    by_kind: list[Figure] = field(default_factory=list)
    by_mode: list[Figure] = field(default_factory=list)
    by_country: list[Figure] = field(default_factory=list)  # most first
    by_sector: list[Figure] = field(default_factory=list)  # an organization counts in each


@dataclass
class Requests:
    sent: int = 0  # every request between two participants, whatever became of it
    by_status: list[Figure] = field(default_factory=list)  # every status, zeros included
    must_meet: int = 0
    proposed_by_staff: int = 0

    def count(self, status: RequestStatus) -> int:
        return next((f.count for f in self.by_status if f.key == status), 0)


@dataclass
class Meetings:
    placed: int = 0
    published: int = 0
    held: int = 0
    no_show: int = 0
    not_reported: int = 0

    def figures(self) -> list[Figure]:
        return [
            Figure("placed", "Placed", self.placed),
            Figure("published", "Published", self.published),
            Figure("held", "Held", self.held),
            Figure("no-show", "No-show", self.no_show),
            Figure("not-reported", "Not reported yet", self.not_reported),
        ]


@dataclass
class EventAnalytics:
    event: MissionEvent
    registrations: Registrations
    requests: Requests
    meetings: Meetings
    ratings: list[Figure]  # every rating, worst to best, zeros included
    introductions: int  # opened from the event's meetings
    introductions_by_state: list[Figure]  # where those introductions stand now


def _ranked(counts: Counter[str], label: dict[str, str] | None = None) -> list[Figure]:
    """Most first, then by label, so equal counts read in a stable order."""
    figures = [Figure(key, (label or {}).get(key, key), n) for key, n in counts.items()]
    return sorted(figures, key=lambda f: (-f.count, f.label.lower(), f.key))


def registrations(event: MissionEvent) -> Registrations:
    """Every registration, verified organization or not (staff count them all): one row
    per participant with what is counted of it."""
    rows = db.session.execute(
        sa.select(Organization.kind, Organization.country, Organization.sectors, Participant.mode)
        .join(Organization, Organization.id == Participant.organization_id)
        .where(Participant.event_id == event.id)
    ).all()
    kinds: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    sectors: Counter[str] = Counter()
    for kind, country, codes, mode in rows:
        kinds[kind] += 1
        modes[mode] += 1
        countries[country or ""] += 1
        sectors.update(set(codes or []))
    return Registrations(
        total=len(rows),
        by_kind=[Figure(k, KIND_LABELS[k], kinds[k]) for k in OrganizationKind],
        by_mode=[Figure(m, MODE_LABELS[m], modes[m]) for m in AttendanceMode],
        by_country=_ranked(
            countries, {code: country_name(code) if code else NO_COUNTRY for code in countries}
        ),
        by_sector=_ranked(sectors, {code: sector_short_label(code) for code in sectors}),
    )


def requests(event: MissionEvent) -> Requests:
    """Requests by status, with how many were must-meets and staff proposals: one
    grouped query."""
    rows = db.session.execute(
        sa.select(
            MeetingRequest.status,
            sa.func.count(),
            sa.func.sum(sa.case((MeetingRequest.must_meet, 1), else_=0)),
            sa.func.sum(sa.case((MeetingRequest.proposed_by_staff, 1), else_=0)),
        )
        .where(MeetingRequest.event_id == event.id)
        .group_by(MeetingRequest.status)
    ).all()
    by_status = {status: count for status, count, _, _ in rows}
    return Requests(
        sent=sum(by_status.values()),
        by_status=[Figure(s, STATUS_LABELS[s], by_status.get(s, 0)) for s in RequestStatus],
        must_meet=sum(int(must or 0) for _, _, must, _ in rows),
        proposed_by_staff=sum(int(proposed or 0) for _, _, _, proposed in rows),
    )


def meetings(event: MissionEvent) -> Meetings:
    """Placed and published meetings, and what their sides said of them: one row per
    meeting and side that answered (or per meeting no side answered)."""
    rows = db.session.execute(
        sa.select(Meeting.request_id, Meeting.published, MeetingOutcome.attendance)
        .outerjoin(MeetingOutcome, MeetingOutcome.request_id == Meeting.request_id)
        .where(Meeting.event_id == event.id)
    ).all()
    published: dict[int, bool] = {}
    said: dict[int, set[str]] = defaultdict(set)
    for request_id, is_published, attendance in rows:
        published[request_id] = bool(is_published)
        if attendance is not None:
            said[request_id].add(attendance)
    held = sum(1 for words in said.values() if Attendance.HELD in words)
    no_show = sum(
        1 for words in said.values() if Attendance.NO_SHOW in words and Attendance.HELD not in words
    )
    return Meetings(
        placed=len(published),
        published=sum(published.values()),
        held=held,
        no_show=no_show,
        not_reported=len(published) - held - no_show,
    )


def _event_outcomes(event_id: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(MeetingOutcome.id)
        .join(MeetingRequest, MeetingRequest.id == MeetingOutcome.request_id)
        .where(MeetingRequest.event_id == event_id)
    )


def ratings(event: MissionEvent) -> list[Figure]:
    """How many times each rating was given, by either side: one grouped query."""
    counts = dict(
        db.session.execute(
            sa.select(MeetingOutcome.rating, sa.func.count())
            .where(MeetingOutcome.id.in_(_event_outcomes(event.id)))
            .group_by(MeetingOutcome.rating)
        ).all()
    )
    return [Figure(r, RATING_LABELS[r], counts.get(r, 0)) for r in Rating]


def introductions_by_state(event: MissionEvent) -> list[Figure]:
    """The introductions opened from the event's meetings, by where they stand now (one
    grouped query); only states some introduction is in."""
    opened = (
        sa.select(MeetingOutcome.introduction_id)
        .where(MeetingOutcome.id.in_(_event_outcomes(event.id)))
        .where(MeetingOutcome.introduction_id.is_not(None))
    )
    counts = dict(
        db.session.execute(
            sa.select(Introduction.state, sa.func.count())
            .where(Introduction.id.in_(opened))
            .group_by(Introduction.state)
        ).all()
    )
    return [Figure(s, s.label, counts[s]) for s in IntroState if counts.get(s)]


def event_analytics(event: MissionEvent) -> EventAnalytics:
    """Every figure of the event's analytics page and CSV (six queries, whatever its size)."""
    intros = introductions_by_state(event)
    return EventAnalytics(
        event=event,
        registrations=registrations(event),
        requests=requests(event),
        meetings=meetings(event),
        ratings=ratings(event),
        introductions=sum(f.count for f in intros),
        introductions_by_state=intros,
    )


# --- the staff dashboard's line per event ----------------------------------------------


@dataclass(frozen=True)
class Headline:
    event: MissionEvent
    participants: int
    requests: int
    accepted: int
    placed: int
    held: int
    introductions: int


def headlines() -> list[Headline]:
    """One line per event, by first session, for the staff dashboard: the event list's
    grouped counts, and two grouped queries for meetings held and introductions."""
    held = dict(
        db.session.execute(
            sa.select(Meeting.event_id, sa.func.count(sa.distinct(Meeting.request_id)))
            .join(MeetingOutcome, MeetingOutcome.request_id == Meeting.request_id)
            .where(MeetingOutcome.attendance == Attendance.HELD)
            .group_by(Meeting.event_id)
        ).all()
    )
    introductions = dict(
        db.session.execute(
            sa.select(
                MeetingRequest.event_id, sa.func.count(sa.distinct(MeetingOutcome.introduction_id))
            )
            .join(MeetingOutcome, MeetingOutcome.request_id == MeetingRequest.id)
            .group_by(MeetingRequest.event_id)
        ).all()
    )
    return [
        Headline(
            event=summary.event,
            participants=summary.participants,
            requests=sum(summary.requests.values()),
            accepted=summary.requests.get(RequestStatus.ACCEPTED, 0),
            placed=summary.meetings,
            held=held.get(summary.event.id, 0),
            introductions=introductions.get(summary.event.id, 0),
        )
        for summary in summaries()
    ]


# --- CSV -------------------------------------------------------------------------------

CSV_COLUMNS = ("event", "figure", "key", "label", "count")


def csv_records(analytics: EventAnalytics) -> Iterator[tuple[str, str, str, int]]:
    """(figure, key, label, count) for every figure of the page, in the page's order."""
    registered = analytics.registrations
    yield ("registrations", "total", "Registrations", registered.total)
    for name, figures in (
        ("registrations by kind", registered.by_kind),
        ("registrations by attendance", registered.by_mode),
        ("registrations by country", registered.by_country),
        ("registrations by sector", registered.by_sector),
    ):
        for f in figures:
            yield (name, f.key, f.label, f.count)
    asked = analytics.requests
    yield ("requests", "sent", "Sent", asked.sent)
    for f in asked.by_status:
        yield ("requests", f.key, f.label, f.count)
    yield ("requests", "must-meet", "Marked must-meet", asked.must_meet)
    yield ("requests", "proposed-by-staff", "Proposed by staff", asked.proposed_by_staff)
    for f in analytics.meetings.figures():
        yield ("meetings", f.key, f.label, f.count)
    for f in analytics.ratings:
        yield ("ratings", f.key, f.label, f.count)
    yield ("introductions", "total", "Opened from the event's meetings", analytics.introductions)
    for f in analytics.introductions_by_state:
        yield ("introductions by state", f.key, f.label, f.count)


def write_csv(out: IO[str], analytics: EventAnalytics) -> int:
    """The figures, one a line, every cell safe to open in a spreadsheet (a country code
    or sector as typed into an import could start with "=")."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for figure, key, label, number in csv_records(analytics):
        cells = (analytics.event.ref, figure, key, label, str(number))
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
        count += 1
    return count
