"""Saved searches: saving from the search page and the directory, editing, pausing and
deleting one's own, refusing bad input beside the field, and the mail of new matches
(batched or weekly, each need once per search, mutes and unsubscribe respected), checked
on the real SMTP server on loopback. Time moves through ``now``, never by sleeping."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from follows.follow_factories import Scene, deliver, make_scene
from organizations.directory_factories import log_in, make_need, make_org, make_user

from portal import signals
from portal.accounts.models import Role
from portal.db import utc_now
from portal.extensions import db
from portal.follows import alerts, services
from portal.follows.models import (
    Delivery,
    NeedPublication,
    SavedSearch,
    SavedSearchMatch,
)
from portal.follows.services import FollowError, SearchCriteria
from portal.mail.models import OutboxMessage
from portal.needs.models import NeedStatus
from portal.notifications import services as notifications
from portal.notifications.models import MailMode, MuteKind
from portal.organizations.models import OrganizationKind, VerificationStatus
from portal.search.index import IndexStore


@pytest.fixture
def scene(app: Flask) -> Scene:
    return make_scene()


def _saved(scene: Scene, words: str = "flood sensors", **criteria: object) -> SavedSearch:
    search = services.save_search(
        scene.member,
        name=words or "filters only",
        criteria=SearchCriteria(words=words, **criteria),  # type: ignore[arg-type]
        now=utc_now() - dt.timedelta(hours=1),
    )
    db.session.commit()
    return search


def _new_need(scene: Scene, title: str = "Flood sensors for the Cu De river", **fields: object):
    need = make_need(scene.buyer, title, description="Sensors on bridges.", **fields)
    return need


def _run(minutes: int = 0) -> alerts.AlertReport:
    report = alerts.run_saved_search_alerts(utc_now() + dt.timedelta(minutes=minutes))
    deliver()
    return report


# --- pages -----------------------------------------------------------------------------


def test_save_this_search_from_the_search_page(client: FlaskClient, scene: Scene) -> None:
    IndexStore.from_app().open()  # a node that has built its index
    log_in(client, scene.member)
    page = client.get("/search?q=flood+sensors&sector=water&notice=rfp")
    assert b'action="/saved-searches/new"' in page.data
    assert b'name="sector" value="water"' in page.data
    response = client.post(
        "/saved-searches/new",
        data={
            "name": "Flood work",
            "words": "flood sensors",
            "sector": "water",
            "notice": "rfp",
            "frequency": "immediate",
        },
    )
    assert response.status_code == 302
    [search] = db.session.scalars(sa.select(SavedSearch)).all()
    assert (search.words, search.sector, search.notice) == ("flood sensors", "water", "rfp")
    listing = client.get("/saved-searches")
    assert b"Flood work" in listing.data
    assert "“flood sensors”; Water; Request for proposals (tender)".encode() in listing.data


def test_the_more_options_form_is_filled_from_the_directory_query(
    client: FlaskClient, scene: Scene
) -> None:
    log_in(client, scene.member)
    assert b'action="/saved-searches/new"' in client.get("/needs?country=VN").data
    page = client.get("/saved-searches/new?q=leaks&country=VN&sector=nonsense&budget_min=5")
    assert page.status_code == 200
    assert b'value="leaks"' in page.data
    assert b'<option selected value="VN">' in page.data
    assert b'value="5"' in page.data


def test_the_directorys_language_filter_is_saved_with_the_search(
    client: FlaskClient, scene: Scene
) -> None:
    log_in(client, scene.member)
    directory = client.get("/needs?language=vi")
    assert b'name="language" value="vi"' in directory.data
    form = client.get("/saved-searches/new?language=vi")
    assert b'<option selected value="vi">' in form.data
    response = client.post(
        "/saved-searches/new",
        data={"name": "In Vietnamese", "language": "vi", "frequency": "immediate"},
    )
    assert response.status_code == 302
    [search] = db.session.scalars(sa.select(SavedSearch)).all()
    assert search.language == "vi"
    assert b"written in Vietnamese" in client.get("/saved-searches").data
    refused = client.post(
        "/saved-searches/new", data={"name": "x", "language": "xx", "frequency": "weekly"}
    )
    assert refused.status_code == 400
    assert b'id="language-error"' in refused.data


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "x", "sector": "not-a-sector"}, "sector", b"Not a valid choice"),
        ({"name": "x", "words": "a", "budget_min": "-1"}, "budget_min", b"whole number"),
        ({"name": "x", "budget_min": "9", "budget_max": "3"}, "budget_max", b"below the minimum"),
        ({"name": "x", "words": "   "}, "words", b"give some words or choose"),
        ({"name": "", "words": "flood"}, "name", b"Give the search a name"),
        ({"name": "x", "words": "flood", "frequency": "hourly"}, "frequency", b"Not a valid"),
        ({"name": "x", "words": "w" * 501}, "words", b"longer than 500"),
    ],
)
def test_bad_input_is_refused_beside_its_field(
    client: FlaskClient, scene: Scene, data: dict[str, str], field: str, message: bytes
) -> None:
    log_in(client, scene.member)
    response = client.post("/saved-searches/new", data={"frequency": "weekly", **data})
    assert response.status_code == 400
    assert f'id="{field}-error"'.encode() in response.data
    assert message in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedSearch)) == 0


def test_a_name_is_used_once_per_member(client: FlaskClient, scene: Scene) -> None:
    _saved(scene, "flood")
    log_in(client, scene.member)
    response = client.post(
        "/saved-searches/new", data={"name": "FLOOD", "words": "x", "frequency": "weekly"}
    )
    assert response.status_code == 400
    assert b"already have a saved search by that name" in response.data


def test_edit_pause_resume_and_delete_ones_own(client: FlaskClient, scene: Scene) -> None:
    search = _saved(scene)
    log_in(client, scene.member)
    assert b'value="flood sensors"' in client.get(f"/saved-searches/{search.id}/edit").data
    response = client.post(
        f"/saved-searches/{search.id}/edit",
        data={"name": "Renamed", "words": "drainage", "frequency": "weekly"},
    )
    assert response.status_code == 302
    db.session.refresh(search)
    assert (search.name, search.words, search.frequency) == ("Renamed", "drainage", "weekly")
    client.post(f"/saved-searches/{search.id}/pause")
    db.session.refresh(search)
    assert search.paused_at is not None
    assert b"paused" in client.get("/saved-searches").data
    client.post(f"/saved-searches/{search.id}/resume")
    db.session.refresh(search)
    assert search.paused_at is None
    client.post(f"/saved-searches/{search.id}/delete")
    assert db.session.get(SavedSearch, search.id) is None


def test_another_members_search_is_not_found(client: FlaskClient, scene: Scene) -> None:
    search = _saved(scene)
    log_in(client, make_user(Role.BUYER, scene.buyer))
    for path in ("edit", "pause", "resume", "delete"):
        method = client.get if path == "edit" else client.post
        assert method(f"/saved-searches/{search.id}/{path}").status_code == 404
    assert client.get("/saved-searches/99999999/edit").status_code == 404
    assert db.session.get(SavedSearch, search.id) is not None


def test_any_member_may_save_searches(client: FlaskClient, scene: Scene) -> None:
    log_in(client, make_user(Role.BUYER, scene.buyer))
    response = client.post(
        "/saved-searches/new", data={"name": "Peers", "country": "PH", "frequency": "weekly"}
    )
    assert response.status_code == 302


# --- the alerts ------------------------------------------------------------------------------


def test_a_new_matching_need_is_mailed_once_with_why(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood sensors", sector="water")
    need = scene.need
    other = _new_need(scene, "Parking guidance", sectors=["mobility"])
    report = _run()
    assert report.matched == 1 and report.mailed == 1
    [message] = mailbox.to(scene.member.email)
    assert message["Subject"] == "New need for your saved search “flood sensors”"
    body = mailbox.body(message)
    assert need.title in body and other.title not in body
    assert "words in the title: flood, sensors; sector: Water" in body
    assert f"/needs/{need.ref}" in body and "/mute/" in body and "/unsubscribe/" in body
    assert _run(minutes=30).mailed == 0  # never twice
    assert len(mailbox.to(scene.member.email)) == 1


def test_needs_already_public_when_the_search_was_saved_are_not_new(
    app: Flask, scene: Scene, mailbox
) -> None:
    _run()  # the scene's need is stamped public now
    services.save_search(
        scene.member,
        name="later",
        criteria=SearchCriteria(words="flood"),
        now=utc_now() + dt.timedelta(minutes=1),
    )
    db.session.commit()
    assert _run(minutes=2).matched == 0


def test_several_matches_go_in_one_mail_per_member(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    _saved(scene, "", sector="water")
    _new_need(scene, "Flood sensors one", sectors=["water"])
    _new_need(scene, "Flood sensors two")
    report = _run()
    assert report.matched == 5  # flood: the scene's need and both; water: the scene's, one
    [message] = mailbox.to(scene.member.email)
    assert message["Subject"] == "5 new needs for your saved searches"


def test_immediate_mail_is_batched_every_few_minutes(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    _run()
    assert len(mailbox.to(scene.member.email)) == 1
    _new_need(scene, "Flood gates")
    assert _run(minutes=1).matched == 1
    assert len(mailbox.to(scene.member.email)) == 1  # waits for the window
    assert _run(minutes=11).mailed == 1
    assert "Flood gates" in mailbox.body(mailbox.to(scene.member.email)[-1])


def test_weekly_searches_wait_for_the_weekly_mail(app: Flask, scene: Scene, mailbox) -> None:
    search = _saved(scene, "flood")
    search.frequency = "weekly"
    db.session.commit()
    now = utc_now()
    alerts.run_saved_search_alerts(now)
    deliver()
    assert mailbox.to(scene.member.email) == []  # the weekly clock starts now
    alerts.run_saved_search_alerts(now + dt.timedelta(days=7))
    deliver()
    [message] = mailbox.to(scene.member.email)
    assert "1 new need for your saved searches" in message["Subject"]
    assert scene.need.title in mailbox.body(message)
    alerts.run_saved_search_alerts(now + dt.timedelta(days=15))
    deliver()
    assert len(mailbox.to(scene.member.email)) == 1


def test_digest_mode_makes_every_search_weekly(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    notifications.set_mode(scene.member, MailMode.DIGEST)
    db.session.commit()
    assert alerts.send_immediate_matches(scene.member, utc_now()) is None
    assert _run().matched == 1
    [match] = db.session.scalars(sa.select(SavedSearchMatch)).all()
    assert match.delivery == Delivery.PENDING
    assert mailbox.to(scene.member.email) == []
    _run(minutes=8 * 24 * 60)
    db.session.refresh(match)
    assert match.delivery == Delivery.MAILED
    assert "1 new need for your saved searches" in mailbox.to(scene.member.email)[0]["Subject"]


def test_paused_searches_find_nothing_and_resuming_skips_the_pause(
    app: Flask, scene: Scene, mailbox
) -> None:
    search = _saved(scene, "flood")
    services.pause_search(search)
    db.session.commit()
    assert _run().matched == 0
    services.resume_search(search, now=utc_now() + dt.timedelta(minutes=1))
    db.session.commit()
    assert _run(minutes=2).matched == 0  # the need was published during the pause
    assert mailbox.to(scene.member.email) == []
    _new_need(scene, "Flood barriers")
    assert _run(minutes=3).matched == 1  # published after the search resumed


def test_muted_needs_and_sectors_are_left_out(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    notifications.mute(scene.member, MuteKind.SECTOR, "water")
    db.session.commit()
    assert _run().matched == 0
    assert mailbox.to(scene.member.email) == []


def test_unsubscribed_members_are_not_matched(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    notifications.unsubscribe(scene.member)
    db.session.commit()
    assert _run().matched == 0
    assert mailbox.to(scene.member.email) == []


def test_a_need_made_public_by_verifying_its_buyer_is_caught(
    app: Flask, scene: Scene, mailbox
) -> None:
    pending = make_org(OrganizationKind.BUYER, "Hue Drainage", country="VN", verified=False)
    need = make_need(pending, "Flood pumps for Hue")
    _saved(scene, "flood pumps")
    assert _run().matched == 0  # not public: no row
    pending.status = VerificationStatus.VERIFIED  # no need_published for this
    db.session.commit()
    assert _run(minutes=1).matched == 1
    assert need.title in mailbox.body(mailbox.to(scene.member.email)[0])


def test_the_published_signal_stamps_the_need(app: Flask, scene: Scene) -> None:
    signals.need_published.send(scene.need, actor=None)
    row = db.session.get(NeedPublication, scene.need.id)
    assert row is not None and row.public_since is not None


def test_a_need_closed_before_the_mail_is_not_mailed(app: Flask, scene: Scene, mailbox) -> None:
    _saved(scene, "flood")
    notifications.set_mode(scene.member, MailMode.DIGEST)
    db.session.commit()
    alerts.find_matches(utc_now())
    alerts.sweep_publications(utc_now())
    alerts.find_matches(utc_now())
    scene.need.status = NeedStatus.CLOSED
    db.session.commit()
    notifications.set_mode(scene.member, MailMode.IMMEDIATE)
    db.session.commit()
    _run(minutes=20)
    assert mailbox.to(scene.member.email) == []


def test_the_service_refuses_a_search_with_nothing_to_look_for(app: Flask, scene: Scene) -> None:
    with pytest.raises(FollowError) as error:
        services.save_search(scene.member, name="empty", criteria=SearchCriteria(words="?!"))
    assert error.value.field == "words"


@pytest.mark.real_commits
def test_two_workers_at_once_mail_a_match_once(committing_app: Flask) -> None:
    """Each worker in its own app context, as two processes: the unique (search, need)
    log and the member's locked settings row leave one match and one mail."""
    scene = make_scene()
    _saved(scene, "flood")
    now = utc_now()
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker() -> None:
        with committing_app.app_context():
            start.wait()
            try:
                alerts.run_saved_search_alerts(now)
            except Exception as exc:  # recorded, so the assertion below shows it
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedSearchMatch)) == 1
    mails = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == scene.member.email)
    )
    assert mails == 1
