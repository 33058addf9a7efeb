"""Agenda mail through the outbox: published, changed, and the day-before reminder.

"Published" and "changed" are decided by a fingerprint of each participant's published
agenda (``Participant.agenda_digest``, what they were last mailed): publishing mails
those who had never had an agenda, and those whose meetings moved, were added or were
cancelled; everyone else hears nothing. A hand move or cancel of a published meeting on
the staff grid (``grid``) calls it at once, and ``services.publish`` may run again at any
time: only the people concerned get mail.

The reminder goes on the day before each local meeting day, from 08:00 in the
participant's own zone, run by the worker. A row in ``mission_agenda_reminders`` (the
participant and the day, its primary key) is written in the same transaction as the
mail, so a reminder is sent once even if two workers run, and never for a transaction
that rolled back. Mail is queued, never sent here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.i18n.lazy import LazyText, lazy_gettext, lazy_ngettext
from portal.introductions.notifications import recipients
from portal.mail.services import mail_link, queue_mail
from portal.missions.agenda import Agenda, AgendaItem, agenda_of, mail_lines
from portal.missions.models import (
    AgendaReminder,
    Meeting,
    MeetingRequest,
    MissionEvent,
    Participant,
)

REMINDER_FROM_HOUR = 8  # local time of the day before: not a mail at midnight
# Local "tomorrow" ends at most 48 hours from now (UTC+14 against UTC-12): look this far.
REMINDER_HORIZON = dt.timedelta(hours=50)


@dataclass
class AgendaMailReport:
    published: int = 0  # participants mailed their first agenda
    changed: int = 0  # participants mailed a changed agenda


def agenda_digest(agenda: Agenda) -> str:
    """A fingerprint of what a participant was told: when, where and with whom."""
    parts = [
        f"{item.request.id}|{item.meeting.starts_at.isoformat()}|{item.meeting.ends_at.isoformat()}"
        f"|{item.meeting.table_number}|{item.meeting.online}|{item.join_link or ''}"
        for item in agenda.items
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _mail_participant(
    participant: Participant,
    agenda: Agenda,
    template: str,
    subject: str | LazyText,
    items: list[AgendaItem] | None = None,
    **context: object,
) -> int:
    link = mail_link("agendas.mine", ref=agenda.event.ref)
    sent = 0
    for person in recipients(participant.organization):
        message = queue_mail(
            person.email,
            subject,
            f"mission_agenda_{template}",
            person=person,
            event=agenda.event,
            organization=participant.organization,
            zone_name=agenda.zone_name,
            lines=mail_lines(agenda, items),  # written in each recipient's language
            link=link,
            **context,
        )
        sent += message is not None
    return sent


def mail_agenda_changes(event: MissionEvent) -> AgendaMailReport:
    """Mail each participant whose published agenda differs from what they were last
    mailed: "published" the first time, "changed" after. Flushes; never commits."""
    report = AgendaMailReport()
    participants = db.session.scalars(
        sa.select(Participant)
        .where(Participant.event_id == event.id)
        .options(selectinload(Participant.organization))
        .order_by(Participant.id)
    )
    for participant in participants:
        agenda = agenda_of(participant)
        digest = agenda_digest(agenda)
        if digest == participant.agenda_digest:
            continue
        if participant.agenda_digest is None:
            if not agenda.items:
                continue  # nothing to tell yet
            _mail_participant(
                participant,
                agenda,
                "published",
                lazy_gettext("Your agenda for %(event)s", event=event.name),
            )
            report.published += 1
        else:
            _mail_participant(
                participant,
                agenda,
                "changed",
                lazy_gettext("Your agenda for %(event)s has changed", event=event.name),
            )
            report.changed += 1
        participant.agenda_digest = digest
    db.session.flush()
    return report


def _due_participants(now: dt.datetime) -> list[Participant]:
    """Participants with a published meeting in the next two days (a small set)."""
    soon = (
        sa.select(MeetingRequest.from_id, MeetingRequest.to_id)
        .join(Meeting, Meeting.request_id == MeetingRequest.id)
        .where(
            Meeting.published.is_(True),
            Meeting.starts_at > now,
            Meeting.starts_at <= now + REMINDER_HORIZON,
        )
    )
    ids = {participant_id for row in db.session.execute(soon) for participant_id in row}
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Participant)
            .where(Participant.id.in_(ids))
            .options(selectinload(Participant.organization), selectinload(Participant.event))
            .order_by(Participant.id)
        )
    )


def _claim(participant: Participant, day: dt.date, now: dt.datetime) -> bool:
    """Write the reminder's row; False if it was there already (sent, or a racing worker
    is sending it). A savepoint keeps the rest of the pass when the insert loses."""
    if db.session.get(AgendaReminder, (participant.id, day)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(AgendaReminder(participant_id=participant.id, day=day, sent_at=now))
    except IntegrityError:
        return False
    return True


def send_reminders(now: dt.datetime) -> int:
    """Queue the day-before reminder of every participant for whom it is, in their own
    zone, past 08:00 on the day before a meeting day; each (participant, day) once.
    Flushes; the caller commits. Returns the participants reminded."""
    reminded = 0
    for participant in _due_participants(now):
        agenda = agenda_of(participant)
        local_now = now.astimezone(agenda.zone)
        if local_now.hour < REMINDER_FROM_HOUR:
            continue
        tomorrow = local_now.date() + dt.timedelta(days=1)
        items = [item for item in agenda.items if item.starts.date() == tomorrow]
        if not items or not _claim(participant, tomorrow, now):
            continue
        count = len(items)
        _mail_participant(
            participant,
            agenda,
            "reminder",
            lazy_ngettext(
                "Tomorrow at %(event)s: %(num)s meeting",
                "Tomorrow at %(event)s: %(num)s meetings",
                count,
                event=agenda.event.name,
            ),
            items,
            day=tomorrow,
        )
        reminded += 1
    db.session.flush()
    return reminded
