"""Why a lead is sent, in the language of the mail: the worker finds the leads of a digest
or a lead alert with no reader, so they are found in the recipient's language. An
English member's mail reads as before. Mail goes through the real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from introductions.intro_factories import make_member
from matching.feedback_factories import Market, build_market

from portal.accounts.models import User
from portal.extensions import db
from portal.mail.services import deliver_pending
from portal.notifications import alerts, services
from portal.notifications.models import MailMode

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
# Mail carries confident leads only, whose capability answers the need.
ENGLISH = "“LED streetlight retrofit” answers the need's street lighting problem"
VIETNAMESE = "“LED streetlight retrofit” giải quyết vấn đề về chiếu sáng đường phố của nhu cầu"


@pytest.fixture
def market(app: Flask, every_lead_shown: None) -> Market:
    """The small market, its leads all confident enough to mail (tests/conftest.py)."""
    return build_market()


def _member(market: Market, locale: str | None, mode: MailMode) -> User:
    user = make_member(market.danang)
    user.locale = locale
    if mode == MailMode.DIGEST:
        services.set_mode(user, MailMode.DIGEST, now=NOW - dt.timedelta(days=7))
    db.session.commit()
    return user


def test_a_vietnamese_members_digest_says_why_in_vietnamese(
    app: Flask, runner, market: Market, mailbox
) -> None:
    member = _member(market, "vi", MailMode.DIGEST)
    english = _member(market, None, MailMode.DIGEST)
    # Run while a Thai page is being read: neither the page's nor the worker's language.
    with app.test_request_context("/", headers={"Accept-Language": "th"}):
        result = runner.invoke(args=["mail", "digest", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    deliver_pending()

    [message] = mailbox.to(member.email)
    body = mailbox.body(message)
    assert VIETNAMESE in body
    assert ENGLISH not in body and "Why you get this lead" not in body

    [message] = mailbox.to(english.email)
    body = mailbox.body(message)
    assert f"Why you get this lead: {ENGLISH}" in body


def test_a_vietnamese_members_lead_alert_says_why_in_vietnamese(
    app: Flask, market: Market, mailbox
) -> None:
    member = _member(market, "vi", MailMode.IMMEDIATE)
    english = _member(market, None, MailMode.IMMEDIATE)
    alerts.run_lead_alerts(NOW)
    deliver_pending()

    body = mailbox.body(mailbox.to(member.email)[0])
    assert VIETNAMESE in body and ENGLISH not in body
    assert "Mute the sector" not in body  # the sector's link is worded in Vietnamese too

    body = mailbox.body(mailbox.to(english.email)[0])
    assert ENGLISH in body and "Mute the sector Energy:" in body
