"""People you should meet: the leads engine ranks the other participants both ways, with
the lead's reasons, and leaves out non-participants and those already asked."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from matching.feedback_factories import Market, build_market
from missions.page_factories import log_in, make_event, make_member, make_participant, make_request

from portal.extensions import db
from portal.matching.feedback import dismiss_lead
from portal.missions import requests as req
from portal.missions.models import MissionEvent


@pytest.fixture
def market(app: Flask) -> Market:
    return build_market()


@pytest.fixture
def event(market: Market) -> MissionEvent:
    event = make_event(ref="leads")
    for organization in (market.danang, market.lumenark, market.aquasonic):
        make_participant(event, organization)
    return event


def _participant(event: MissionEvent, organization) -> object:
    return next(p for p in event.participants if p.organization_id == organization.id)


def test_a_vendor_is_shown_buyers_whose_needs_it_answers(
    market: Market, event: MissionEvent
) -> None:
    found, unavailable = req.suggestions(_participant(event, market.lumenark))
    assert not unavailable
    assert [s.participant.organization for s in found] == [market.danang]
    assert found[0].reasons and found[0].about  # the lead's reasons and its need


def test_a_buyer_is_shown_participating_vendors_best_first(
    market: Market, event: MissionEvent
) -> None:
    found, _ = req.suggestions(_participant(event, market.danang))
    names = [s.participant.organization.name for s in found]
    assert names[0] == "Lumenark Lighting"
    assert "Brightpath Streetlights" not in names  # a good lead, but not at the event
    assert found[0].reasons


def test_those_already_asked_are_not_suggested(market: Market, event: MissionEvent) -> None:
    make_request(_participant(event, market.lumenark), _participant(event, market.danang))
    found, _ = req.suggestions(_participant(event, market.danang))
    assert "Lumenark Lighting" not in [s.participant.organization.name for s in found]


def test_the_requests_page_shows_suggestions_with_reasons(
    client: FlaskClient, market: Market, event: MissionEvent
) -> None:
    log_in(client, make_member(market.lumenark))
    page = client.get("/events/leads/requests")
    assert page.status_code == 200
    part = page.text.split("People you should meet", 1)[1].split("Ask any participant", 1)[0]
    assert "Da Nang Lighting Office" in part
    assert "Request a meeting" in part


def test_a_broken_ranking_leaves_the_page_up(
    client: FlaskClient, market: Market, event: MissionEvent, monkeypatch
) -> None:
    def broken() -> None:
        raise RuntimeError("no snapshot")

    monkeypatch.setattr(req, "current_model", broken)
    found, unavailable = req.suggestions(_participant(event, market.lumenark))
    assert found == [] and unavailable
    log_in(client, make_member(market.lumenark))
    page = client.get("/events/leads/requests")
    assert page.status_code == 200 and "unavailable" in page.text


def test_a_vendor_s_dismissed_needs_do_not_bring_their_buyer(
    market: Market, event: MissionEvent
) -> None:
    for need in (market.lamps, market.old_quarter):
        dismiss_lead(market.vendor_member, need, market.lumenark, "already_in_contact")
    db.session.commit()
    found, _ = req.suggestions(_participant(event, market.lumenark))
    dismissed = {market.lamps.title, market.old_quarter.title}
    assert all(s.about not in dismissed for s in found)


def test_a_buyer_s_dismissed_vendor_is_not_suggested_for_that_need(
    market: Market, event: MissionEvent
) -> None:
    for need in (market.lamps, market.old_quarter):
        dismiss_lead(market.buyer_member, need, market.lumenark, "already_in_contact")
    db.session.commit()
    found, _ = req.suggestions(_participant(event, market.danang))
    dismissed = {market.lamps.title, market.old_quarter.title}
    lumenark = [s for s in found if s.participant.organization_id == market.lumenark.id]
    assert all(s.about not in dismissed for s in lumenark)
