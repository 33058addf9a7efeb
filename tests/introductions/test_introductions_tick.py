"""Expiry, reminders and the outcome question: ``expire_and_remind(now)`` with ``now`` given.

Mail goes through the outbox to the real SMTP server on loopback.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from introductions.intro_factories import Pair, make_pair, walk_to

from portal.db import utc_now
from portal.introductions import services, timers
from portal.introductions.models import EventKind, IntroState
from portal.mail.services import deliver_pending

S = IntroState


@pytest.fixture
def pair(app: Flask) -> Pair:
    made = make_pair()
    for person in (made.vendor_member, made.buyer_member, made.staff):
        assert person.id
    return made


def later(days: float) -> dt.datetime:
    return utc_now() + dt.timedelta(days=days)


def delivered(mailbox, person, subject_part: str) -> list:
    deliver_pending()
    return [m for m in mailbox.to(person.email) if subject_part in m["Subject"]]


def test_unanswered_introduction_is_reminded_once_then_expires(pair: Pair, mailbox) -> None:
    intro = walk_to(pair, S.APPROVED, origin="vendor")
    assert timers.expire_and_remind(later(6)).total == 0

    report = timers.expire_and_remind(later(8))
    assert (report.reminded, report.expired) == (1, 0)
    [reminder] = delivered(mailbox, pair.buyer_member, "Reminder")
    assert pair.vendor.name in reminder["Subject"]
    assert f"/introductions/{intro.id}" in mailbox.body(reminder)
    assert not delivered(mailbox, pair.vendor_member, "Reminder")  # it is not their move

    assert timers.expire_and_remind(later(9)).reminded == 0  # once
    report = timers.expire_and_remind(later(22))
    assert report.expired == 1
    assert intro.state == S.EXPIRED
    assert intro.events[-1].actor_role == "system"
    for member in (pair.vendor_member, pair.buyer_member):
        assert delivered(mailbox, member, "expired")


def test_introduction_waiting_for_staff_reminds_staff(pair: Pair, mailbox) -> None:
    intro = walk_to(pair, S.UNDER_REVIEW, origin="buyer")
    report = timers.expire_and_remind(later(7.5))
    assert report.reminded == 1
    assert delivered(mailbox, pair.staff, "waiting for review")
    assert intro.events[-1].kind == EventKind.REMINDER


def test_each_step_restarts_the_introduction_clock(pair: Pair) -> None:
    intro = walk_to(pair, S.REQUESTED)
    services.transition(intro, S.UNDER_REVIEW, pair.staff, now=later(15))
    assert timers.expire_and_remind(later(30)).expired == 0  # 15 days after the step
    assert timers.expire_and_remind(later(37)).expired == 1


def test_expiry_and_reminder_days_come_from_the_config(
    pair: Pair, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_INTRODUCTION_EXPIRY_DAYS", 3)
    monkeypatch.setitem(app.config, "PORTAL_INTRODUCTION_REMINDER_DAYS", 1)
    intro = walk_to(pair, S.REQUESTED)
    assert timers.expire_and_remind(later(2)).reminded == 1
    assert timers.expire_and_remind(later(4)).expired == 1
    assert intro.state == S.EXPIRED


def test_both_sides_are_asked_once_for_the_introduction_outcome(pair: Pair, mailbox) -> None:
    intro = walk_to(pair, S.MEETING_HELD)
    assert timers.expire_and_remind(later(80)).asked == 0
    assert timers.expire_and_remind(later(91)).asked == 1
    assert intro.vendor_outcome_asked_at and intro.buyer_outcome_asked_at
    for member, other in ((pair.vendor_member, pair.buyer), (pair.buyer_member, pair.vendor)):
        [question] = delivered(mailbox, member, "How did it go")
        assert other.name in question["Subject"]
        assert f"/introductions/{intro.id}" in mailbox.body(question)
    assert timers.expire_and_remind(later(200)).asked == 0  # once
    won = walk_to(pair, S.WON)
    assert timers.expire_and_remind(later(300)).asked == 0  # nothing to ask about
    assert won.vendor_outcome_asked_at is None


def test_introduction_tick_cli(pair: Pair, runner) -> None:
    intro = walk_to(pair, S.REQUESTED)
    when = later(30).replace(tzinfo=None).isoformat(timespec="seconds")
    result = runner.invoke(args=["introductions", "tick", "--now", when])
    assert result.exit_code == 0, result.output
    assert "expired 1" in result.output
    assert intro.state == S.EXPIRED
    result = runner.invoke(args=["introductions", "tick", "--now", "yesterday"])
    assert result.exit_code == 2 and "not an ISO 8601 time" in result.output
