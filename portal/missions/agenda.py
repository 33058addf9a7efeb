"""A participant's agenda: their meetings, in their own time zone, and as iCalendar text.

Participants see published meetings only (a draft schedule may still change); staff see
drafts too. Times are shown in the participant's zone (``Participant.time_zone``, else the
event's), so a U.S. company joining online from Denver reads Denver time.

The .ics text is written to RFC 5545 with ``portal.ical`` (CRLF line ends, lines folded
at 75 octets, escaped TEXT values, times in UTC "Z"), with a UID per meeting that survives
re-plans (it is made of the request, which meets once), and a SEQUENCE that grows
whenever the meeting row changes, so subscribed calendars move the meeting instead of
keeping a stale copy. A cancelled meeting has no row, so it is simply no longer in the
feed and calendars drop it. Its words are the language being rendered (the member's who
downloads it, the one a subscription URL asks for; English for the CLI); names of
events and organizations are as written.

A join link pattern (``MissionEvent.join_link_pattern``) accepts these placeholders:
``{event}`` the event's ref, ``{meeting}`` the meeting's number (stable across re-plans),
``{secret}`` a 16-character code derived from the portal's secret key (so room names
cannot be guessed from the ref and number). Values are URL-quoted. A pattern with an
unknown placeholder or a stray brace yields no link rather than a broken one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from babel.dates import format_date
from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import selectinload

from portal.db import utc_now
from portal.extensions import db
from portal.i18n.formatting import current_locale, is_english, wall_time_span
from portal.i18n.lazy import LazyText
from portal.ical import calendar_text, escape_text, fold  # noqa: F401 - fold: as before
from portal.ical import utc_stamp as _utc
from portal.missions.models import (
    Meeting,
    MeetingOutcome,
    MeetingRequest,
    MissionEvent,
    Participant,
)
from portal.organizations.models import Organization

JOIN_LINK_PLACEHOLDERS = frozenset({"event", "meeting", "secret"})
# SEQUENCE counts seconds since this instant: always growing, and small enough for the
# signed 32-bit INTEGER of RFC 5545 until 2088.
SEQUENCE_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
TOKEN_BYTES = 32  # 256 bits of secrets.token_urlsafe: 43 characters


# --- time zones ------------------------------------------------------------------------


def zone_of(participant: Participant) -> zoneinfo.ZoneInfo:
    """The participant's own zone, else the event's; UTC if neither is a real zone."""
    for name in (participant.time_zone, participant.event.time_zone):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


# --- the agenda ------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaItem:
    """One meeting as this participant sees it."""

    meeting: Meeting
    request: MeetingRequest
    other: Participant
    starts: dt.datetime  # in the participant's zone
    ends: dt.datetime
    join_link: str | None
    outcome: MeetingOutcome | None  # this side's own word on it, if given

    @property
    def other_organization(self) -> Organization:
        return self.other.organization

    @property
    def place(self) -> str:
        """Where, in English: the CLI and the API."""
        return "Online" if self.meeting.online else f"Table {self.meeting.table_number}"

    @property
    def place_label(self) -> str:
        """Where, in the language being rendered (the page's, or the mail's)."""
        if self.meeting.online:
            return gettext("Online")
        return gettext("Table %(t)s", t=self.meeting.table_number)

    @property
    def uid(self) -> str:
        return meeting_uid(self.request)

    @property
    def sequence(self) -> int:
        return sequence_of(self.meeting)

    @property
    def has_started(self) -> bool:
        return self.meeting.starts_at <= utc_now()


@dataclass
class Agenda:
    event: MissionEvent
    participant: Participant
    zone: zoneinfo.ZoneInfo
    items: list[AgendaItem] = field(default_factory=list)
    drafts: bool = False  # unpublished meetings included (staff only)

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def days(self) -> list[tuple[dt.date, list[AgendaItem]]]:
        """The meetings grouped by local day, in order."""
        grouped: dict[dt.date, list[AgendaItem]] = {}
        for item in self.items:
            grouped.setdefault(item.starts.date(), []).append(item)
        return sorted(grouped.items())


def participant_by_ref(event: MissionEvent, organization_ref: str) -> Participant | None:
    return db.session.scalar(
        sa.select(Participant)
        .join(Organization, Organization.id == Participant.organization_id)
        .where(Participant.event_id == event.id, Organization.ref == organization_ref)
    )


def agenda_of(
    participant: Participant, *, drafts: bool = False, now: dt.datetime | None = None
) -> Agenda:
    """The participant's meetings by start time, in their zone. ``drafts``: include
    meetings not published yet (the staff view); participants never see those."""
    event = participant.event
    zone = zone_of(participant)
    query = (
        sa.select(Meeting)
        .join(MeetingRequest, MeetingRequest.id == Meeting.request_id)
        .where(
            Meeting.event_id == event.id,
            sa.or_(
                MeetingRequest.from_id == participant.id, MeetingRequest.to_id == participant.id
            ),
        )
        .options(
            selectinload(Meeting.request).selectinload(MeetingRequest.requester),
            selectinload(Meeting.request).selectinload(MeetingRequest.requested),
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    if not drafts:
        query = query.where(Meeting.published.is_(True))
    meetings = list(db.session.scalars(query))
    outcomes = {
        outcome.request_id: outcome
        for outcome in db.session.scalars(
            sa.select(MeetingOutcome).where(
                MeetingOutcome.participant_id == participant.id,
                MeetingOutcome.request_id.in_([m.request_id for m in meetings]),
            )
        )
    }
    items = []
    for meeting in meetings:
        request = meeting.request
        other = request.requested if request.from_id == participant.id else request.requester
        items.append(
            AgendaItem(
                meeting=meeting,
                request=request,
                other=other,
                starts=meeting.starts_at.astimezone(zone),
                ends=meeting.ends_at.astimezone(zone),
                join_link=join_link(event, meeting) if meeting.online else None,
                outcome=outcomes.get(request.id),
            )
        )
    return Agenda(event, participant, zone, items, drafts)


def find_item(agenda: Agenda, request_id: int) -> AgendaItem | None:
    return next((item for item in agenda.items if item.request.id == request_id), None)


# --- join links ------------------------------------------------------------------------


def pattern_problem(pattern: str) -> str | None:
    """Why a join link pattern cannot work, or None; for the event form and tests."""
    if not pattern:
        return None
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError:
        return gettext(
            "a brace is not closed; write placeholders as {event}, {meeting} or {secret}"
        )
    unknown = names - JOIN_LINK_PLACEHOLDERS
    if unknown:
        listed = ", ".join(sorted(unknown))
        return gettext(
            "unknown placeholder(s) %(names)s: use {event}, {meeting} or {secret}", names=listed
        )
    if urlsplit(pattern).scheme not in ("https", "http"):
        return gettext("a join link starts with https://")
    return None


def meeting_secret(event: MissionEvent, meeting: Meeting) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"join:{event.id}:{meeting.request_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def join_link(event: MissionEvent, meeting: Meeting) -> str | None:
    """The online meeting's link from the event's pattern, or None if it has none."""
    pattern = event.join_link_pattern
    if not pattern or pattern_problem(pattern) is not None:
        return None
    values = {
        "event": quote(event.ref, safe=""),
        "meeting": str(meeting.request_id),
        "secret": meeting_secret(event, meeting),
    }
    return pattern.format_map(values)


# --- calendar subscription tokens -------------------------------------------------------


def new_calendar_token(participant: Participant) -> str:
    """Give the participant a fresh subscription token; the old URL stops working."""
    participant.calendar_token = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.flush()
    return participant.calendar_token


def revoke_calendar_token(participant: Participant) -> None:
    participant.calendar_token = None
    db.session.flush()


def participant_by_token(token: str) -> Participant | None:
    """The participant whose subscription URL carries ``token``; None for anything else."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(Participant).where(Participant.calendar_token == token))


# --- iCalendar ------------------------------------------------------------------------


def meeting_uid(request: MeetingRequest) -> str:
    host = urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname or "portal"
    return f"mission-meeting-{request.id}@{host}"


def sequence_of(meeting: Meeting) -> int:
    return max(0, int((meeting.changed_at - SEQUENCE_EPOCH).total_seconds()))


def _local_time(item: AgendaItem) -> str:
    """The meeting's span on the participant's clock, as the locale writes it; English
    keeps ``2027-03-09 09:00 - 09:20``."""
    if is_english():
        return f"{item.starts:%Y-%m-%d %H:%M} - {item.ends:%H:%M}"
    return wall_time_span(item.starts, item.ends)


def _event_lines(item: AgendaItem, agenda: Agenda, stamp: dt.datetime) -> list[str]:
    """One VEVENT, worded in the language being rendered (names as written)."""
    event = agenda.event
    other = item.other_organization.name
    where = ", ".join(part for part in (event.venue, event.city, event.country) if part)
    place = item.place_label
    if item.meeting.online:
        location = item.join_link or place
    else:
        location = f"{place}, {where}" if where else place
    description = [
        gettext(
            "%(event)s: one-to-one meeting with %(organization)s.",
            event=event.name,
            organization=other,
        ),
        gettext("Place: %(place)s.", place=place),
        gettext("Local time: %(time)s (%(zone)s).", time=_local_time(item), zone=agenda.zone_name),
    ]
    if item.join_link:
        description.append(gettext("Join: %(link)s", link=item.join_link))
    summary = gettext(
        "Meeting with %(organization)s (%(event)s)", organization=other, event=event.name
    )
    lines = [
        "BEGIN:VEVENT",
        f"UID:{item.uid}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(item.meeting.starts_at)}",
        f"DTEND:{_utc(item.meeting.ends_at)}",
        f"SEQUENCE:{item.sequence}",
        f"LAST-MODIFIED:{_utc(item.meeting.changed_at)}",
        f"SUMMARY:{escape_text(summary)}",
        f"LOCATION:{escape_text(location)}",
        f"DESCRIPTION:{escape_text(chr(10).join(description))}",
        "STATUS:CONFIRMED" if item.meeting.published else "STATUS:TENTATIVE",
        "TRANSP:OPAQUE",
    ]
    if item.join_link:
        lines.append(f"URL:{item.join_link}")
    lines.append("END:VEVENT")
    return lines


def agenda_ics(agenda: Agenda, now: dt.datetime | None = None) -> str:
    """The agenda as an iCalendar object: one VEVENT per meeting, times in UTC, words in
    the language being rendered (a request's, or one forced for it)."""
    stamp = now or utc_now()
    name = f"{agenda.event.name}: {agenda.participant.organization.name}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//U.S.-ASEAN Smart Cities Matchmaking//Agenda//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"X-WR-TIMEZONE:{agenda.zone_name}",
    ]
    for item in agenda.items:
        lines.extend(_event_lines(item, agenda, stamp))
    lines.append("END:VCALENDAR")
    return calendar_text(lines)


# --- plain text (the CLI and mail) ------------------------------------------------------


def agenda_lines(agenda: Agenda, items: Iterable[AgendaItem] | None = None) -> list[str]:
    """One line per meeting, local time and zone named, in English whatever language is
    being rendered (``agenda_line`` words it in that language)."""
    return [_english_line(item) for item in (agenda.items if items is None else items)]


def _english_line(item: AgendaItem) -> str:
    line = (
        f"{item.starts:%a %Y-%m-%d %H:%M}-{item.ends:%H:%M}  {item.place:<9}  "
        f"{item.other_organization.name}"
    )
    return _with_link_and_state(line, item, "draft")


def _with_link_and_state(line: str, item: AgendaItem, draft: str) -> str:
    """A meeting's line, then its join link if online and ``(draft)`` if unpublished."""
    if item.join_link:
        line += f"  {item.join_link}"
    if not item.meeting.published:
        line += f"  ({draft})"
    return line


def agenda_line(item: AgendaItem) -> str:
    """One meeting's line in the language being rendered, on the agenda's clock: the
    weekday, date and times as the locale writes them, the place, the other side. In
    English, the CLI's line (``Tue 2027-03-09 09:00-09:20  Table 1    Org city``)."""
    if is_english():
        return _english_line(item)
    weekday = format_date(item.starts.date(), format="EEE", locale=current_locale())
    line = (
        f"{weekday} {wall_time_span(item.starts, item.ends)}  {item.place_label}  "
        f"{item.other_organization.name}"
    )
    return _with_link_and_state(line, item, gettext("draft"))


def mail_lines(agenda: Agenda, items: Iterable[AgendaItem] | None = None) -> list[LazyText]:
    """The agenda's lines for a mail, each written when the mail is rendered, so in its
    recipient's language (``queue_mail`` renders inside the recipient's locale)."""
    return [LazyText(agenda_line, item) for item in (agenda.items if items is None else items)]
