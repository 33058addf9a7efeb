"""Following a need: the button, "My followed needs", what followers are told (amendments
and public answers through the signals, deadline reminders from the worker), with mail
checked on the real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from follows.follow_factories import Scene, deliver, make_scene
from organizations.directory_factories import log_in, make_need, make_user

from portal import signals
from portal.accounts.models import Role
from portal.db import utc_now
from portal.extensions import db
from portal.follows import alerts, services
from portal.follows.models import Delivery, FollowUpdate, NeedFollow
from portal.mail.models import OutboxMessage
from portal.needs.models import Need, NeedStatus
from portal.notices.amendments import amend
from portal.notices.models import NoticeAmendment
from portal.notices.services import answer_question, ask_question
from portal.notifications import services as notifications
from portal.notifications.models import MailMode, MuteKind


@pytest.fixture
def scene(app: Flask) -> Scene:
    return make_scene()


def _follows(scene: Scene) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(NeedFollow)
        .where(NeedFollow.need_id == scene.need.id)
    )


# --- the button and the page ---------------------------------------------------------------


def test_a_vendor_member_follows_and_unfollows_from_the_need_page(
    client: FlaskClient, scene: Scene
) -> None:
    log_in(client, scene.member)
    page = client.get(f"/needs/{scene.need.ref}")
    assert b'action="/needs/' + scene.need.ref.encode() + b'/follow"' in page.data
    response = client.post(f"/needs/{scene.need.ref}/follow")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/needs/{scene.need.ref}")
    client.post(f"/needs/{scene.need.ref}/follow")  # twice: still one follow
    assert _follows(scene) == 1
    assert b"Unfollow" in client.get(f"/needs/{scene.need.ref}").data
    followed = client.get("/followed")
    assert followed.status_code == 200
    assert scene.need.title.encode() in followed.data
    client.post(f"/needs/{scene.need.ref}/unfollow", data={"next": "followed"})
    assert _follows(scene) == 0


def test_buyers_staff_and_visitors_cannot_follow(client: FlaskClient, scene: Scene) -> None:
    assert b"/follow" not in client.get(f"/needs/{scene.need.ref}").data
    assert client.post(f"/needs/{scene.need.ref}/follow").status_code == 302  # to login
    log_in(client, make_user(Role.BUYER, scene.buyer))
    assert b"Follow this need" not in client.get(f"/needs/{scene.need.ref}").data
    assert client.post(f"/needs/{scene.need.ref}/follow").status_code == 403
    assert client.get("/followed").status_code == 403
    assert _follows(scene) == 0


def test_a_need_that_is_not_public_cannot_be_followed(client: FlaskClient, scene: Scene) -> None:
    closed = make_need(scene.buyer, "Closed survey", status=NeedStatus.CLOSED)
    log_in(client, scene.member)
    assert client.post(f"/needs/{closed.ref}/follow").status_code == 404
    assert client.post("/needs/no-such-need/follow").status_code == 404
    assert client.post("/needs/no-such-need/unfollow").status_code == 404


# --- amendments and answers ----------------------------------------------------------------


def _amend(need: Need) -> NoticeAmendment:
    """An amendment as the notices feature writes one (and sends need_amended)."""
    return amend(
        need,
        [{"field": "closes_on", "old": "2026-03-10", "new": "2026-03-24"}],
        note="More time for site visits.",
    )


def test_followers_are_mailed_what_an_amendment_changed(app: Flask, scene: Scene, mailbox) -> None:
    services.follow(scene.member, scene.need)
    db.session.commit()
    amendment = _amend(scene.need)
    signals.need_amended.send(scene.need, amendment=amendment, actor=None)  # sent twice
    db.session.commit()
    deliver()
    [message] = mailbox.to(scene.member.email)
    assert message["Subject"] == f"New amendment: {scene.need.title}"
    body = mailbox.body(message)
    assert "Amendment 1: Closing date: 2026-03-10 -> 2026-03-24" in body
    assert "More time for site visits." in body
    assert "/unsubscribe/" in body and message["List-Unsubscribe"]
    [row] = db.session.scalars(sa.select(FollowUpdate)).all()
    assert row.delivery == Delivery.MAILED


def test_a_public_answer_reaches_followers_but_not_others(
    app: Flask, scene: Scene, mailbox
) -> None:
    other = make_user(Role.VENDOR, scene.vendor)
    services.follow(scene.member, scene.need)
    db.session.commit()
    question = ask_question(scene.need, other, "Is LoRaWAN acceptable?")
    answer_question(question, "Yes, or NB-IoT.", actor=make_user(Role.BUYER, scene.buyer))
    db.session.commit()
    deliver()
    body = mailbox.body(mailbox.to(scene.member.email)[0])
    assert "Question: Is LoRaWAN acceptable?" in body and "Answer: Yes, or NB-IoT." in body
    assert mailbox.to(other.email) == []


def test_a_rolled_back_amendment_tells_no_one(app: Flask, scene: Scene, mailbox) -> None:
    services.follow(scene.member, scene.need)
    db.session.commit()
    _amend(scene.need)
    db.session.rollback()
    deliver()
    assert mailbox.to(scene.member.email) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpdate)) == 0


def test_digest_members_get_the_news_in_their_weekly_mail(
    app: Flask, scene: Scene, mailbox
) -> None:
    services.follow(scene.member, scene.need)
    notifications.set_mode(scene.member, MailMode.DIGEST)
    db.session.commit()
    _amend(scene.need)
    db.session.commit()
    deliver()
    assert mailbox.to(scene.member.email) == []
    alerts.run_saved_search_alerts(utc_now())  # the weekly clock starts
    report = alerts.run_saved_search_alerts(utc_now() + dt.timedelta(days=8))
    deliver()
    assert report.mailed == 1
    [message] = mailbox.to(scene.member.email)
    assert "1 update on needs you follow" in message["Subject"]
    assert "Closing date: 2026-03-10 -> 2026-03-24" in mailbox.body(message)
    alerts.run_saved_search_alerts(utc_now() + dt.timedelta(days=16))
    deliver()
    assert len(mailbox.to(scene.member.email)) == 1  # told once


def test_a_muted_need_is_recorded_but_not_mailed(app: Flask, scene: Scene, mailbox) -> None:
    services.follow(scene.member, scene.need)
    notifications.mute(scene.member, MuteKind.NEED, str(scene.need.id))
    db.session.commit()
    _amend(scene.need)
    db.session.commit()
    deliver()
    assert mailbox.to(scene.member.email) == []
    [row] = db.session.scalars(sa.select(FollowUpdate)).all()
    assert row.delivery == Delivery.HELD


def test_an_unsubscribed_follower_gets_no_mail(app: Flask, scene: Scene, mailbox) -> None:
    services.follow(scene.member, scene.need)
    notifications.unsubscribe(scene.member)
    db.session.commit()
    _amend(scene.need)
    db.session.commit()
    deliver()
    assert mailbox.to(scene.member.email) == []


# --- deadline reminders --------------------------------------------------------------------


def test_a_reminder_goes_once_a_few_days_before_the_deadline(app: Flask, mailbox) -> None:
    scene = make_scene(closes_in_days=2)
    far = make_scene(closes_in_days=20)
    services.follow(scene.member, scene.need)
    services.follow(far.member, far.need)
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 1
    assert alerts.send_deadline_reminders(utc_now()) == 0  # the next cycle: nothing
    deliver()
    [message] = mailbox.to(scene.member.email)
    assert message["Subject"].startswith(f"Closes {scene.need.closes_on.isoformat()}")
    assert "Closes in 2 days" in mailbox.body(message)
    assert mailbox.to(far.member.email) == []


def test_a_moved_deadline_is_reminded_again(app: Flask, mailbox) -> None:
    scene = make_scene(closes_in_days=1)
    services.follow(scene.member, scene.need)
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 1
    scene.need.closes_on = scene.need.closes_on + dt.timedelta(days=1)
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 1


def test_digest_members_are_reminded_at_once(app: Flask, mailbox) -> None:
    scene = make_scene(closes_in_days=1)
    services.follow(scene.member, scene.need)
    notifications.set_mode(scene.member, MailMode.DIGEST)
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 1


def test_a_closed_need_is_not_reminded(app: Flask, mailbox) -> None:
    scene = make_scene(closes_in_days=1)
    services.follow(scene.member, scene.need)
    scene.need.status = NeedStatus.CLOSED
    db.session.commit()
    assert alerts.send_deadline_reminders(utc_now()) == 0


@pytest.mark.real_commits
def test_two_workers_at_once_remind_each_follower_once(committing_app: Flask) -> None:
    """Each worker in its own app context (session and connection), as two processes;
    on PostgreSQL their transactions overlap and the unique key decides."""
    scene = make_scene(closes_in_days=1)
    services.follow(scene.member, scene.need)
    db.session.commit()
    start = threading.Barrier(2)
    results: list[object] = []

    def worker() -> None:
        with committing_app.app_context():
            start.wait()
            try:
                results.append(alerts.send_deadline_reminders(utc_now()))
            except Exception as exc:  # recorded, so the assertion below shows it
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [0, 1]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpdate)) == 1
    mails = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == scene.member.email)
    )
    assert mails == 1
