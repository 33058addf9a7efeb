"""Agenda mail through the outbox and the real SMTP server: published, changed (only to
those concerned) and the day-before reminder in each participant's zone, sent once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from agenda_factories import DENVER, Scheduled, scheduled_event
from flask import Flask
from introductions.intro_factories import make_member

from portal import worker
from portal.accounts.models import User
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import deliver_pending
from portal.missions import agenda, agenda_mail, services
from portal.missions.models import AgendaReminder

REFS = ("acme", "bolt", "cog", "city", "port")


@pytest.fixture
def draft(app: Flask, tmp_path: Path) -> Scheduled:
    return scheduled_event(tmp_path, publish=False)


@pytest.fixture
def members(draft: Scheduled) -> dict[str, User]:
    return {ref: make_member(draft.organization(ref)) for ref in REFS}


def _outbox(recipient: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    return list(db.session.scalars(query))


def _publish(made: Scheduled) -> None:
    services.publish(made.event)
    db.session.commit()


def test_publishing_mails_each_participant_its_agenda_in_its_zone(
    app: Flask, draft: Scheduled, members: dict[str, User], mailbox
) -> None:
    _publish(draft)
    assert {m.recipient for m in _outbox()} == {u.email for u in members.values()}
    deliver_pending()
    message = mailbox.wait_for(members["acme"].email)
    assert message["Subject"] == "Your agenda for Matchmaking ev-1"
    body = mailbox.body(message)
    item = agenda.agenda_of(draft.participant("acme")).items[0]
    assert f"times in {DENVER}" in body
    assert f"{item.starts:%Y-%m-%d %H:%M}" in body and "Org city" in body
    assert item.join_link and item.join_link in body
    assert "/events/ev-1/agenda" in body
    city = mailbox.body(mailbox.wait_for(members["city"].email))
    assert "times in Asia/Bangkok" in city
    assert all(f"Org {ref}" in city for ref in ("acme", "bolt", "cog"))


def test_publishing_again_with_nothing_changed_mails_no_one(
    app: Flask, draft: Scheduled, members: dict[str, User]
) -> None:
    _publish(draft)
    before = len(_outbox())
    _publish(draft)
    assert len(_outbox()) == before


def test_a_moved_meeting_mails_only_its_two_sides(
    app: Flask, draft: Scheduled, members: dict[str, User], mailbox
) -> None:
    _publish(draft)
    deliver_pending()
    mailbox.messages.clear()
    before = len(_outbox())
    meeting = draft.meeting("bolt", "city")
    meeting.table_number = 2 if meeting.table_number == 1 else 1
    db.session.commit()
    _publish(draft)
    changed = _outbox()[before:]
    assert sorted(m.recipient for m in changed) == sorted(
        [members["bolt"].email, members["city"].email]
    )
    assert all(m.subject == "Your agenda for Matchmaking ev-1 has changed" for m in changed)
    deliver_pending()
    body = mailbox.body(mailbox.wait_for(members["bolt"].email))
    assert f"Table {meeting.table_number}" in body


def test_a_cancelled_meeting_mails_both_sides(
    app: Flask, draft: Scheduled, members: dict[str, User]
) -> None:
    _publish(draft)
    before = len(_outbox())
    db.session.delete(draft.meeting("acme", "city"))
    db.session.commit()
    report = agenda_mail.mail_agenda_changes(draft.event)
    assert (report.published, report.changed) == (0, 2)
    changed = _outbox()[before:]
    assert sorted(m.recipient for m in changed) == sorted(
        [members["acme"].email, members["city"].email]
    )
    acme = next(m for m in changed if m.recipient == members["acme"].email)
    assert "(no meetings are on your agenda now)" in acme.body_text


def test_no_mail_before_publishing(app: Flask, draft: Scheduled, members: dict[str, User]) -> None:
    report = agenda_mail.mail_agenda_changes(draft.event)
    assert (report.published, report.changed) == (0, 0)
    assert _outbox() == []


# --- the day-before reminder ----------------------------------------------------------------


def _first_local(made: Scheduled, ref: str) -> dt.datetime:
    return agenda.agenda_of(made.participant(ref)).items[0].starts


def test_the_reminder_comes_the_day_before_in_the_participants_zone_and_once(
    app: Flask, draft: Scheduled, members: dict[str, User], mailbox
) -> None:
    _publish(draft)
    first = _first_local(draft, "acme")  # Denver time
    day_before = first.replace(hour=0, minute=0) - dt.timedelta(days=1)
    too_early = day_before.replace(hour=7, minute=59)
    agenda_mail.send_reminders(too_early.astimezone(dt.UTC))
    assert not [m for m in _outbox(members["acme"].email) if m.subject.startswith("Tomorrow")]
    at_eight = day_before.replace(hour=8).astimezone(dt.UTC)
    agenda_mail.send_reminders(at_eight)
    db.session.commit()
    reminders = [m for m in _outbox(members["acme"].email) if m.subject.startswith("Tomorrow")]
    assert len(reminders) == 1
    assert reminders[0].subject == "Tomorrow at Matchmaking ev-1: 1 meeting"
    # Again, later that day, by another worker: nothing more.
    count = len(_outbox())
    assert agenda_mail.send_reminders(at_eight + dt.timedelta(hours=3)) == 0
    assert len(_outbox()) == count
    assert db.session.get(AgendaReminder, (draft.participant("acme").id, first.date()))
    deliver_pending()
    body = mailbox.body(
        mailbox.wait_for(members["acme"].email, lambda m: "Tomorrow" in m["Subject"])
    )
    assert f"{first:%H:%M}" in body and DENVER in body


def test_bangkok_participants_are_reminded_by_bangkok_time(
    app: Flask, draft: Scheduled, members: dict[str, User]
) -> None:
    _publish(draft)
    first = _first_local(draft, "city")
    assert first.date() == dt.date(2027, 3, 9)
    evening = dt.datetime(2027, 3, 8, 7, 59, tzinfo=first.tzinfo).astimezone(dt.UTC)
    agenda_mail.send_reminders(evening)
    assert not [m for m in _outbox(members["city"].email) if m.subject.startswith("Tomorrow")]
    agenda_mail.send_reminders(evening + dt.timedelta(minutes=1))
    [reminder] = [m for m in _outbox(members["city"].email) if m.subject.startswith("Tomorrow")]
    assert reminder.subject == "Tomorrow at Matchmaking ev-1: 3 meetings"
    # On the day itself it is too late for a "tomorrow" mail.
    port = draft.participant("port")
    db.session.execute(sa.delete(AgendaReminder).where(AgendaReminder.participant_id == port.id))
    on_the_day = dt.datetime(2027, 3, 9, 8, 0, tzinfo=first.tzinfo).astimezone(dt.UTC)
    agenda_mail.send_reminders(on_the_day)
    reminded = db.session.scalars(
        sa.select(AgendaReminder.day).where(AgendaReminder.participant_id == port.id)
    ).all()
    assert reminded == []


def test_the_worker_sends_reminders(
    app: Flask,
    draft: Scheduled,
    members: dict[str, User],
    mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ("mission reminders", worker.mission_reminders_pass) in worker.PASSES
    _publish(draft)
    deliver_pending()
    first = _first_local(draft, "city")
    moment = dt.datetime(2027, 3, 8, 9, 0, tzinfo=first.tzinfo).astimezone(dt.UTC)
    monkeypatch.setattr(worker, "utc_now", lambda: moment)
    assert worker.mission_reminders_pass() >= 4  # bolt, cog, city and port in Bangkok
    assert worker.mission_reminders_pass() == 0
    worker.mail_pass()
    message = mailbox.wait_for(members["port"].email, lambda m: "Tomorrow" in m["Subject"])
    assert "times in Asia/Bangkok" in mailbox.body(message)
