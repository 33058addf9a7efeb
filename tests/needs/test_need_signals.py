"""need_published and need_closed: sent once when a person's action makes a need public or
stops it being open, with that person as ``actor``; never for a refused change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import log_in, make_member, make_need, make_org

from portal.accounts.models import User
from portal.db import utc_today
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.needs.services import (
    NeedError,
    close_need,
    create_need,
    mark_awarded,
    reopen_need,
    update_need,
)
from portal.organizations.models import OrganizationKind
from portal.signals import need_closed, need_published

BUYER = OrganizationKind.BUYER


@contextmanager
def recorded() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    """Every need_published and need_closed sent inside the block, in order."""
    sent: list[tuple[str, Any, dict[str, Any]]] = []

    def on_published(sender: Any, **kwargs: Any) -> None:
        # Sent after the flush: the receiver sees the need as it now is in the database.
        assert sender.id is not None and sender.is_public
        sent.append(("published", sender, kwargs))

    def on_closed(sender: Any, **kwargs: Any) -> None:
        assert sender.status == kwargs["status"]
        sent.append(("closed", sender, kwargs))

    with need_published.connected_to(on_published), need_closed.connected_to(on_closed):
        yield sent


def test_posting_for_a_verified_buyer_publishes_once(app: Flask) -> None:
    buyer = make_org(BUYER, "Verified City")
    person = make_member(buyer)
    with recorded() as sent:
        need = create_need(buyer, title="Public at once", actor=person)
    assert sent == [("published", need, {"actor": person})]


def test_posting_for_an_unverified_buyer_publishes_nothing(app: Flask) -> None:
    buyer = make_org(BUYER, "Pending City", verified=False)
    with recorded() as sent:
        create_need(buyer, title="Not public yet")
    assert sent == []


def test_a_refused_change_sends_nothing(app: Flask) -> None:
    buyer = make_org(BUYER, "Strict City")
    need = make_need(buyer, "Already there")
    with recorded() as sent:
        with pytest.raises(NeedError):
            create_need(buyer, title="Half funded", funding_source="adb")
        with pytest.raises(NeedError):
            create_need(buyer, title="Late", closes_on=utc_today() - dt.timedelta(days=1))
        with pytest.raises(NeedError):
            reopen_need(need)  # already open
        close_need(need)
        with pytest.raises(NeedError):
            close_need(need)  # already closed
        mark_awarded(need)
        with pytest.raises(NeedError):
            mark_awarded(need)  # already awarded
    assert [(kind, kwargs["status"]) for kind, _, kwargs in sent] == [
        ("closed", "closed"),
        ("closed", "awarded"),
    ]


def test_close_award_and_reopen_each_send_once_with_the_actor(app: Flask) -> None:
    buyer = make_org(BUYER, "Cycle City")
    person = make_member(buyer)
    need = make_need(buyer, "Round trip")
    with recorded() as sent:
        close_need(need, actor=person)
        reopen_need(need, actor=person)
        mark_awarded(need, actor=person)
        reopen_need(need)  # a script: no person
    assert sent == [
        ("closed", need, {"status": "closed", "actor": person}),
        ("published", need, {"actor": person}),
        ("closed", need, {"status": "awarded", "actor": person}),
        ("published", need, {"actor": None}),
    ]


def test_reopening_for_an_unverified_buyer_publishes_nothing(app: Flask) -> None:
    need = make_need(make_org(BUYER, "Unverified", verified=False), "Hidden", status="closed")
    with recorded() as sent:
        reopen_need(need)
    assert sent == []


def test_an_expired_need_given_a_new_date_is_published_again(app: Flask) -> None:
    need = make_need(make_org(BUYER, "Late City"), "Expired", closes_on=dt.date(2000, 1, 1))
    with recorded() as sent:
        update_need(need, title="Expired", closes_on=dt.date(2000, 1, 1))  # still expired
        update_need(need, title="Renewed", closes_on=utc_today() + dt.timedelta(days=9))
        update_need(need, title="Renewed again", closes_on=utc_today() + dt.timedelta(days=9))
    assert [kind for kind, _, _ in sent] == ["published"]


def _only(kind: str, sent: list[tuple[str, Any, dict[str, Any]]]) -> dict[str, Any]:
    assert [k for k, _, _ in sent] == [kind]
    return sent[0][2]


def test_the_pages_send_them_once_with_the_logged_in_user(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Page City")
    person = make_member(buyer)
    log_in(client, person)
    form = {"title": "From the form", "notice": "rfi", "funding_source": "", "funding_stage": ""}
    with recorded() as sent:
        assert client.post("/needs/new", data=form).status_code == 302
    actor = _only("published", sent)["actor"]
    assert type(actor) is User and actor.id == person.id  # the user, not a proxy of it

    need = db.session.query(Need).one()
    with recorded() as sent:
        assert client.post(f"/needs/{need.ref}/close").status_code == 302
    assert _only("closed", sent)["status"] == NeedStatus.CLOSED
    with recorded() as sent:
        client.post(f"/needs/{need.ref}/close")  # refused: already closed
        assert client.post("/needs/new", data={**form, "funding_source": "adb"}).status_code == 400
    assert sent == []
    with recorded() as sent:
        assert client.post(f"/needs/{need.ref}/reopen").status_code == 302
    assert _only("published", sent)["actor"].id == person.id
    with recorded() as sent:
        assert client.post(f"/needs/{need.ref}/award").status_code == 302
    assert _only("closed", sent)["status"] == NeedStatus.AWARDED
