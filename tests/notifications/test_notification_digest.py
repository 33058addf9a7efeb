"""The weekly digest (``portal mail digest`` and the worker's weekly slot), digest-mode
routing of introduction mail, and times in each member's own zone.

Mail goes through the real SMTP server on loopback (``mailbox``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from introductions.intro_factories import make_member, make_pair, walk_to
from matching.feedback_factories import Market, build_market
from support import count_rows

from portal.accounts.models import User
from portal.extensions import db
from portal.introductions import services as introductions
from portal.introductions.models import IntroState
from portal.mail.services import deliver_pending
from portal.notifications import services
from portal.notifications.models import DigestItem, MailMode, MuteKind
from portal.worker import run_worker_cycle

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def market(app: Flask, every_lead_shown: None) -> Market:
    """The small market, its leads all confident enough to mail (tests/conftest.py)."""
    return build_market()


def _digest_member(organization, timezone: str = "UTC") -> User:
    user = make_member(organization)
    user.timezone = timezone
    services.set_mode(user, MailMode.DIGEST, now=NOW - dt.timedelta(days=7))
    db.session.commit()
    return user


def _run(runner, now: dt.datetime = NOW) -> str:
    result = runner.invoke(args=["mail", "digest", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    deliver_pending()
    return result.output


def test_digest_for_a_buyer_lists_new_leads_with_why_each_was_sent(
    runner, market: Market, mailbox
) -> None:
    member = _digest_member(market.danang)
    output = _run(runner)
    assert "digests queued: 1" in output
    [message] = mailbox.to(member.email)
    body = mailbox.body(message)
    assert "Lumenark Lighting" in body and 'for "Dark riverside streets"' in body
    assert "Why you get this lead:" in body and "LED streetlight retrofit" in body
    assert "/mute/" in body and "/unsubscribe/" in body
    assert message["List-Unsubscribe"]


def test_digest_for_a_vendor_lists_the_needs_it_could_win(runner, market: Market, mailbox) -> None:
    member = _digest_member(market.lumenark)
    _run(runner)
    [message] = mailbox.to(member.email)
    assert "Dark riverside streets" in mailbox.body(message)


def test_a_digest_item_is_never_sent_twice(runner, market: Market, mailbox) -> None:
    member = _digest_member(market.danang)
    _run(runner)
    sent = count_rows(DigestItem)
    assert sent > 0
    output = _run(runner, NOW + dt.timedelta(days=7))
    assert "digests queued: 0, nothing new: 1" in output
    assert len(mailbox.to(member.email)) == 1 and count_rows(DigestItem) == sent


def test_a_digest_run_that_dies_halfway_sends_no_duplicates_on_rerun(
    runner, market: Market, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _digest_member(market.danang)
    second = _digest_member(market.lumenark)
    real_build = services.build_digest

    def dies_on_the_second(user: User, now: dt.datetime) -> services.Digest:
        if user.id == second.id:
            raise RuntimeError("the process died here")
        return real_build(user, now)

    monkeypatch.setattr(services, "build_digest", dies_on_the_second)
    result = runner.invoke(args=["mail", "digest", "--now", NOW.isoformat()])
    assert result.exit_code == 1 and "failed: 1" in result.output
    monkeypatch.setattr(services, "build_digest", real_build)
    _run(runner)
    assert len(mailbox.to(first.email)) == 1
    assert len(mailbox.to(second.email)) == 1


def test_a_muted_sector_and_a_muted_need_are_left_out_of_the_digest(
    runner, market: Market, mailbox
) -> None:
    member = _digest_member(market.danang)
    services.mute(member, MuteKind.NEED, str(market.lamps.id))
    services.mute(member, MuteKind.SECTOR, "water")
    db.session.commit()
    _run(runner)
    [message] = mailbox.to(member.email)
    body = mailbox.body(message)
    assert "Failing street lamps in the old quarter" in body
    assert "Dark riverside streets" not in body and "Leaking water mains" not in body


def test_an_unsubscribed_digest_member_gets_no_digest(runner, market: Market, mailbox) -> None:
    member = _digest_member(market.danang)
    services.unsubscribe(member)
    db.session.commit()
    _run(runner)
    assert mailbox.to(member.email) == [] and count_rows(DigestItem) == 0


def test_the_bad_now_option_is_a_clear_error(runner) -> None:
    result = runner.invoke(args=["mail", "digest", "--now", "next monday"])
    assert result.exit_code == 2 and "ISO" in result.output


def test_the_worker_sends_the_digest_when_the_members_weekly_slot_comes(
    app: Flask, market: Market, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_DIGEST_WEEKDAY", 0)
    monkeypatch.setitem(app.config, "PORTAL_DIGEST_HOUR", 8)
    member = _digest_member(market.danang)
    row = services.preference(member)
    assert row is not None
    row.digest_checked_at = dt.datetime.now(dt.UTC)  # this week's slot is behind it
    db.session.commit()
    run_worker_cycle()
    assert mailbox.to(member.email) == []
    row.digest_checked_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)  # a slot passed
    db.session.commit()
    run_worker_cycle()
    assert len(mailbox.to(member.email)) == 1
    run_worker_cycle()
    assert len(mailbox.to(member.email)) == 1  # once a week


def test_the_weekly_slot_is_in_the_members_own_time_zone() -> None:
    # Monday 08:00 in Ho Chi Minh City is Monday 01:00 UTC; in New York, 13:00 UTC.
    monday_noon_utc = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    hcm = services.digest_slot(monday_noon_utc, "Asia/Ho_Chi_Minh", 0, 8)
    new_york = services.digest_slot(monday_noon_utc, "America/New_York", 0, 8)
    assert hcm == dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    assert new_york == dt.datetime(2026, 2, 23, 13, 0, tzinfo=dt.UTC)  # not yet this week


# --- introductions and the member's choice ---------------------------------------------------


def test_a_digest_member_gets_the_pending_introduction_in_the_digest_instead_of_a_mail(
    app: Flask, runner, mailbox
) -> None:
    pair = make_pair()
    buyer = _digest_member(pair.buyer)
    introduction = walk_to(pair, IntroState.APPROVED)
    deliver_pending()
    assert mailbox.to(buyer.email) == []  # no consent mail at once
    assert mailbox.to(pair.vendor_member.email)  # the immediate side heard at once
    _run(runner, dt.datetime.now(dt.UTC))
    [digest] = mailbox.to(buyer.email)
    body = mailbox.body(digest)
    assert pair.vendor.name in body and "waiting for your answer" in body
    assert f"/introductions/{introduction.id}" in body


def test_the_introduced_mail_with_contacts_goes_at_once_even_to_a_digest_member(
    app: Flask, mailbox
) -> None:
    pair = make_pair()
    buyer = _digest_member(pair.buyer)
    walk_to(pair, IntroState.INTRODUCED)
    deliver_pending()
    subjects = [m["Subject"] for m in mailbox.to(buyer.email)]
    assert subjects == [f"You are introduced: {pair.vendor.name} and {pair.buyer.name}"]
    [message] = mailbox.to(buyer.email)
    assert pair.vendor_contact.email in mailbox.body(message)


def test_introduction_news_in_the_digest_shows_each_members_own_local_time(
    app: Flask, runner, mailbox
) -> None:
    pair = make_pair()
    new_york = _digest_member(pair.vendor, "America/New_York")
    ho_chi_minh = _digest_member(pair.buyer, "Asia/Ho_Chi_Minh")
    introduction = walk_to(pair, IntroState.APPROVED, origin="staff")
    introduction.state_changed_at = dt.datetime(2026, 3, 2, 2, 30, tzinfo=dt.UTC)
    db.session.commit()
    _run(runner, dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC))
    us_body = mailbox.body(mailbox.to(new_york.email)[0])
    asean_body = mailbox.body(mailbox.to(ho_chi_minh.email)[0])
    assert "(2026-03-01 21:30 EST)" in us_body  # the evening before, in New York
    assert "(2026-03-02 09:30 +07)" in asean_body
    assert introductions.awaited_sides(introduction)


def test_mail_carries_only_the_leads_a_page_shows_first(
    app: Flask, runner, mailbox, client
) -> None:
    """With the shipped threshold, the small market's leads are all weak: the need's page
    still lists them behind "show more", but neither the digest nor a lead alert tells
    anyone of them. A member interrupted by a lead the portal doubts stops reading."""
    from matching.feedback_factories import log_in

    from portal.matching import panels
    from portal.notifications import alerts

    market = build_market()
    digest = _digest_member(market.danang)
    panel = panels.need_leads(market.lamps, digest)
    assert panel is not None and panel.rows and not panel.shown  # all behind "show more"
    immediate = make_member(market.lumenark)
    db.session.commit()

    assert "digests queued: 0, nothing new: 1" in _run(runner)
    report = alerts.run_lead_alerts(NOW)
    assert report.considered >= 1 and report.sent == 0  # its leads were computed, none sent
    deliver_pending()
    assert mailbox.to(digest.email) == [] and mailbox.to(immediate.email) == []
    assert count_rows(DigestItem) == 0  # nothing marked sent: they come once confident

    log_in(client, market.buyer_member)
    page = client.get(f"/needs/{market.lamps.ref}").text
    assert "Lumenark Lighting" in page
