"""Lead alerts for members in immediate mode (``portal mail alerts`` and the worker).

Mail goes through the real SMTP server on loopback (``mailbox``); time moves through the
``now`` argument, never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_member
from matching.feedback_factories import LIGHTING, Market, build_market, need
from support import TEST_DB, count_rows

from portal.accounts.models import User
from portal.extensions import db
from portal.mail.services import deliver_pending
from portal.notifications import alerts, services
from portal.notifications.models import DigestItem, MailMode, MuteKind, NotificationMute
from portal.organizations.services import verify_organization
from portal.outbox import IndexEvent
from portal.worker import run_worker_cycle

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(minutes=60)  # the default PORTAL_LEAD_ALERT_MINUTES


@pytest.fixture
def market(app: Flask, every_lead_shown: None) -> Market:
    """The small market, its leads all confident enough to mail (tests/conftest.py)."""
    return build_market()


def _alerts(runner, now: dt.datetime = NOW) -> str:
    result = runner.invoke(args=["mail", "alerts", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    deliver_pending()
    return result.output


def _run(now: dt.datetime) -> alerts.AlertReport:
    report = alerts.run_lead_alerts(now)
    deliver_pending()
    return report


def _only_mail(mailbox, user: User) -> EmailMessage:
    [message] = mailbox.to(user.email)
    return message


def _path(body: str, kind: str, label: str = "") -> str:
    """The path of the first ``/mute/`` or ``/unsubscribe/`` link after ``label``."""
    match = re.search(rf"{re.escape(label)}.*?http://localhost(/{kind}/\S+)", body, re.S)
    assert match, body
    return match.group(1)


def test_a_buyer_in_immediate_mode_hears_once_when_a_matching_vendor_is_verified(
    runner, market: Market, mailbox
) -> None:
    member = make_member(market.danang)  # immediate mode: the default
    output = _alerts(runner)
    assert "lead alerts queued: 1" in output
    welcome = mailbox.body(_only_mail(mailbox, member))
    assert "Lumenark Lighting" in welcome and "Unverified Lamps" not in welcome
    mailbox.messages.clear()

    verify_organization(market.pending, market.staff)
    db.session.commit()
    _alerts(runner, NOW + HOUR)
    message = _only_mail(mailbox, member)
    assert message["Subject"].endswith(
        (" new lead for Da Nang Lighting Office", " new leads for Da Nang Lighting Office")
    )
    assert message["List-Unsubscribe"]
    body = mailbox.body(message)
    assert "Unverified Lamps" in body and 'for "Dark riverside streets"' in body
    assert "Why you get this lead:" in body and "LED streetlight retrofit" in body
    assert "Lumenark Lighting" not in body  # told in the first alert
    assert "/mute/" in body and "/unsubscribe/" in body

    mailbox.messages.clear()
    output = _alerts(runner, NOW + 3 * HOUR)
    assert "lead alerts queued: 0" in output and mailbox.to(member.email) == []


def test_the_links_in_an_alert_mute_the_need_and_unsubscribe(
    client: FlaskClient, market: Market, mailbox
) -> None:
    member = make_member(market.danang)
    _run(NOW)
    body = mailbox.body(_only_mail(mailbox, member))
    mute_need = _path(body, "mute", 'for "Dark riverside streets"')
    assert client.get(mute_need).status_code == 200  # a link scanner's GET changes nothing
    assert count_rows(NotificationMute) == 0
    assert client.post(mute_need).status_code == 200
    [mute] = services.mutes_of(member)
    assert (mute.kind, mute.key) == (MuteKind.NEED, str(market.lamps.id))
    mute_sector = _path(body, "mute", "Mute the sector Energy:")
    assert client.post(mute_sector).status_code == 200
    assert {(m.kind, m.key) for m in services.mutes_of(member)} >= {(MuteKind.SECTOR, "energy")}
    assert client.post(_path(body, "unsubscribe")).status_code == 200
    assert services.is_unsubscribed(member)


def test_a_vendor_hears_of_a_new_open_need(runner, market: Market, mailbox) -> None:
    member = make_member(market.lumenark)
    _alerts(runner)
    welcome = mailbox.body(_only_mail(mailbox, member))
    assert "Dark riverside streets" in welcome
    assert "Closed lamp tender" not in welcome and "Expired lamp tender" not in welcome
    mailbox.messages.clear()
    need(market.danang, "Solar lamps for the river park", f"{LIGHTING[0]}. {LIGHTING[1]}")
    _alerts(runner, NOW + HOUR)
    body = mailbox.body(_only_mail(mailbox, member))
    assert "Solar lamps for the river park" in body and "Dark riverside streets" not in body


def test_a_digest_member_gets_no_alert_and_their_digest_carries_the_leads(
    runner, market: Market, mailbox
) -> None:
    member = make_member(market.danang)
    services.set_mode(member, MailMode.DIGEST, now=NOW - dt.timedelta(days=7))
    db.session.commit()
    assert _run(NOW).sent == 0 and mailbox.to(member.email) == []
    runner.invoke(args=["mail", "digest", "--now", NOW.isoformat()])
    deliver_pending()
    digest = mailbox.body(_only_mail(mailbox, member))
    assert "Lumenark Lighting" in digest


def test_what_an_alert_told_is_not_repeated_by_the_digest_after_a_switch(
    runner, market: Market, mailbox
) -> None:
    member = make_member(market.danang)
    _run(NOW)
    told = count_rows(DigestItem)
    assert told > 0
    services.set_mode(member, MailMode.DIGEST, now=NOW)
    db.session.commit()
    output = runner.invoke(args=["mail", "digest", "--now", (NOW + HOUR).isoformat()]).output
    assert "digests queued: 0, nothing new: 1" in output and count_rows(DigestItem) == told


def test_muted_needs_and_sectors_are_left_out_of_the_alert(market: Market, mailbox) -> None:
    member = make_member(market.danang)
    services.mute(member, MuteKind.NEED, str(market.lamps.id))
    services.mute(member, MuteKind.SECTOR, "water")
    db.session.commit()
    _run(NOW)
    body = mailbox.body(_only_mail(mailbox, member))
    assert "Failing street lamps in the old quarter" in body
    assert "Dark riverside streets" not in body and "Leaking water mains" not in body


def test_no_alert_to_an_unsubscribed_inactive_or_unconfirmed_member_or_an_unverified_org(
    market: Market, mailbox
) -> None:
    unsubscribed = make_member(market.danang)
    services.unsubscribe(unsubscribed)
    inactive = make_member(market.danang)
    inactive.active = False
    unconfirmed = make_member(market.lumenark)
    unconfirmed.email_confirmed_at = None
    pending = make_member(market.pending)
    db.session.commit()
    report = _run(NOW)
    assert report.sent == 0 and report.considered == 0
    for user in (unsubscribed, inactive, unconfirmed, pending):
        assert mailbox.to(user.email) == []
    assert count_rows(DigestItem) == 0


def test_at_most_one_alert_per_window(runner, market: Market, mailbox) -> None:
    member = make_member(market.danang)
    _run(NOW)
    verify_organization(market.pending, market.staff)
    db.session.commit()
    early = _run(NOW + HOUR - dt.timedelta(minutes=1))
    assert early.changed and early.considered == 0  # throttled: its leads not even computed
    assert len(mailbox.to(member.email)) == 1
    assert _run(NOW + HOUR).sent == 1
    assert len(mailbox.to(member.email)) == 2


def test_the_window_is_configurable(
    app: Flask, market: Market, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_LEAD_ALERT_MINUTES", 5)
    member = make_member(market.danang)
    _run(NOW)
    verify_organization(market.pending, market.staff)
    db.session.commit()
    assert _run(NOW + dt.timedelta(minutes=5)).sent == 1
    assert len(mailbox.to(member.email)) == 2


def test_a_long_list_is_capped_and_the_rest_come_in_the_next_window(
    market: Market, mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts, "ALERT_ITEMS", 2)
    member = make_member(market.danang)
    total = len(alerts.pending_leads(member))
    assert total > 2
    _run(NOW)
    first = _only_mail(mailbox, member)
    assert first["Subject"] == "2 new leads for Da Nang Lighting Office"
    more = "lead" if total - 2 == 1 else "leads"
    assert f"{total - 2} more new {more} will come in our next mail" in mailbox.body(first)
    assert _run(NOW + dt.timedelta(minutes=30)).considered == 0  # nothing changed, throttled
    assert _run(NOW + HOUR).sent == 1  # nothing changed either, but leads were left over
    assert len(mailbox.to(member.email)) == 2
    assert count_rows(DigestItem) == min(total, 4)


def test_a_quiet_pass_computes_no_leads(market: Market, mailbox) -> None:
    make_member(market.danang)
    make_member(market.lumenark)
    first = _run(NOW)
    assert first.changed and first.considered == 2
    position = alerts.events_position()
    quiet = _run(NOW + 2 * HOUR)
    assert not quiet.changed and quiet.considered == 0 and quiet.sent == 0
    assert alerts.events_position() == position
    market.water.description += " Pressure sensors too."  # anything searchable moves it on
    db.session.commit()
    moved = _run(NOW + 3 * HOUR)
    assert moved.changed and moved.considered == 2
    assert alerts.events_position()[0] == position[0] + 1


def test_a_new_member_gets_the_current_leads_without_waiting_for_a_change(
    market: Market, mailbox
) -> None:
    make_member(market.lumenark)
    _run(NOW)
    newcomer = make_member(market.danang)
    report = _run(NOW + dt.timedelta(minutes=1))
    assert not report.changed and report.sent == 1
    assert "Lumenark Lighting" in mailbox.body(_only_mail(mailbox, newcomer))


def test_the_worker_sends_the_alert_in_its_cycle(app: Flask, market: Market, mailbox) -> None:
    member = make_member(market.danang)
    run_worker_cycle()
    assert len(mailbox.to(member.email)) == 1
    run_worker_cycle()
    assert len(mailbox.to(member.email)) == 1


def test_the_bad_now_option_is_a_clear_error(runner) -> None:
    result = runner.invoke(args=["mail", "alerts", "--now", "in an hour"])
    assert result.exit_code == 2 and "ISO" in result.output


@pytest.mark.skipif(TEST_DB != "postgresql", reason="SQLite commits writers in id order")
def test_a_lower_event_id_committed_late_still_counts_as_a_change(committing_app: Flask) -> None:
    """PostgreSQL hands out event ids before commit: a transaction holding a lower id may
    commit after a pass saw a higher one. The next pass must still see it."""
    insert = sa.text(
        "INSERT INTO index_events (kind, record_id, txid, created_at) "
        "VALUES ('vendor', :record, pg_current_xact_id()::text::bigint, now())"
    )
    alerts.observe_changes(NOW)
    with db.engine.connect() as slow, db.engine.connect() as fast:
        slow.execute(insert, {"record": 1})  # takes the lower id, commits last
        fast.execute(insert, {"record": 2})
        fast.commit()
        _, changed = alerts.observe_changes(NOW)
        assert changed
        assert not alerts.observe_changes(NOW)[1]
        slow.commit()
    ids = db.session.scalars(sa.select(IndexEvent.id).order_by(IndexEvent.record_id)).all()
    assert ids[0] < ids[1]
    assert alerts.observe_changes(NOW)[1]  # the late commit is a change
    assert not alerts.observe_changes(NOW)[1]
