"""Mail settings, the unsubscribe link every member mail carries, and mutes from a mail.

Mail goes through the real SMTP server on loopback (``mailbox``).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from introductions.intro_factories import make_person
from organizations.directory_factories import PASSWORD, make_org
from support import count_rows

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.mail.services import deliver_pending, queue_mail
from portal.notifications import services
from portal.notifications.models import MailMode, MuteKind, NotificationMute
from portal.organizations.models import OrganizationKind


@pytest.fixture
def member(app: Flask) -> User:
    return make_person(Role.BUYER, make_org(OrganizationKind.BUYER, "Da Nang Water"))


def _log_in(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def _path(url: str) -> str:
    return url.removeprefix("http://localhost")


def _unsubscribe_link(body: str) -> str:
    match = re.search(r"http://localhost(/unsubscribe/\S+)", body)
    assert match, body
    return match.group(1)


def test_every_member_mail_carries_an_unsubscribe_link_and_list_unsubscribe_header(
    client: FlaskClient, member: User, mailbox
) -> None:
    response = client.post("/reset", data={"email": member.email})
    assert response.status_code == 302
    [message] = mailbox.to(member.email)
    link = _unsubscribe_link(mailbox.body(message))
    assert message["List-Unsubscribe"].strip() == f"<http://localhost{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Security mail (password resets, address confirmation) is always sent" in (
        mailbox.body(message)
    )


def test_unsubscribe_link_asks_first_and_works_without_logging_in(
    client: FlaskClient, member: User
) -> None:
    path = _path(services.unsubscribe_url(member))
    page = client.get(path)
    assert page.status_code == 200
    assert '<form method="post"' in page.text and member.email in page.text
    assert "password resets" in page.text  # says what still comes
    assert not services.is_unsubscribed(member)  # a link scanner's GET changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "no longer gets optional mail" in done.text
    assert services.is_unsubscribed(member)


def test_unsubscribed_member_gets_no_optional_mail_but_still_gets_a_password_reset(
    app: Flask, client: FlaskClient, member: User, mailbox
) -> None:
    services.unsubscribe(member)
    db.session.commit()
    with app.test_request_context():
        dropped = queue_mail(
            member.email,
            "Verified",
            "organization_verified",
            member=member,
            organization=member.organization,
            link="http://localhost/",
        )
    assert dropped is None
    client.post("/reset", data={"email": member.email})
    deliver_pending()
    subjects = [m["Subject"] for m in mailbox.to(member.email)]
    assert len(subjects) == 1 and "password" in subjects[0].lower()


def test_one_click_unsubscribe_from_a_mail_client_needs_no_form_token(
    app: Flask, client: FlaskClient, member: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(
        _path(services.unsubscribe_url(member)), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert services.is_unsubscribed(member)


@pytest.mark.parametrize("kind", ["unsubscribe", "mute"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_altered_unsubscribe_and_mute_links_are_refused(
    client: FlaskClient, member: User, kind: str, method: str
) -> None:
    url = (
        services.unsubscribe_url(member)
        if kind == "unsubscribe"
        else services.mute_url(member, MuteKind.SECTOR, "water")
    )
    response = getattr(client, method)(_path(url)[:-3] + "xyz")
    assert response.status_code == 400
    assert "not valid" in response.text
    assert not services.is_unsubscribed(member) and count_rows(NotificationMute) == 0


def test_settings_page_switches_to_the_weekly_digest_and_back_on_to_optional_mail(
    client: FlaskClient, member: User
) -> None:
    _log_in(client, member)
    account = client.get("/account")
    assert 'href="/settings/notifications"' in account.text
    page = client.get("/settings/notifications")
    assert page.status_code == 200
    assert re.search(r'<input checked[^>]*value="immediate"', page.text)
    response = client.post("/settings/notifications", data={"mode": "digest"})
    assert response.status_code == 302
    assert services.mode_of(member) == MailMode.DIGEST
    assert services.is_unsubscribed(member)  # the box was left unticked
    client.post("/settings/notifications", data={"mode": "digest", "optional_mail": "y"})
    assert not services.is_unsubscribed(member)


def test_settings_page_refuses_an_unknown_mode_with_a_form_error(
    client: FlaskClient, member: User
) -> None:
    _log_in(client, member)
    response = client.post("/settings/notifications", data={"mode": "hourly"})
    assert response.status_code == 400
    assert "Please correct the fields" in response.text
    assert services.mode_of(member) == MailMode.IMMEDIATE


def test_mute_link_confirms_on_a_page_then_the_settings_page_removes_the_mute(
    client: FlaskClient, member: User
) -> None:
    path = _path(services.mute_url(member, MuteKind.SECTOR, "water"))
    page = client.get(path)
    assert page.status_code == 200 and "Water" in page.text
    assert count_rows(NotificationMute) == 0
    assert client.post(path).status_code == 200
    assert client.post(path).status_code == 200  # twice is once
    [mute] = services.mutes_of(member)
    assert (mute.kind, mute.key) == ("sector", "water")
    _log_in(client, member)
    settings = client.get("/settings/notifications")
    assert "the sector Water" in settings.text
    response = client.post(f"/settings/notifications/mutes/{mute.id}/remove")
    assert response.status_code == 302
    assert services.mutes_of(member) == []


def test_a_member_cannot_remove_another_members_mute(client: FlaskClient, member: User) -> None:
    other = make_person(Role.VENDOR, make_org(OrganizationKind.VENDOR, "Other Vendor"))
    mute = services.mute(other, MuteKind.SECTOR, "energy")
    db.session.commit()
    _log_in(client, member)
    response = client.post(f"/settings/notifications/mutes/{mute.id}/remove")
    assert response.status_code == 404
    assert len(services.mutes_of(other)) == 1


def test_muting_an_unknown_sector_is_refused(member: User) -> None:
    with pytest.raises(services.NotificationError):
        services.mute(member, MuteKind.SECTOR, "not-a-sector")
