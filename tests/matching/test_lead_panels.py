"""The leads panels of the pages: who gets one, what staff see, and which leads are in it."""

from __future__ import annotations

import pytest
from flask import Flask
from matching.feedback_factories import Market, build_market

from portal.extensions import db
from portal.matching import panels
from portal.matching.feedback import dismiss_lead


@pytest.fixture
def market(app: Flask) -> Market:
    return build_market()


def test_leads_never_include_unverified_vendors_or_needs_that_are_not_open(
    market: Market,
) -> None:
    panel = panels.need_leads(market.lamps, market.staff)
    assert panel is not None and panel.rows
    assert market.pending.id not in {row.lead.vendor.id for row in panel.rows}
    needs = {row.lead.need.id for row in panels.needs_for_vendor(market.lumenark).rows}
    assert market.lamps.id in needs
    assert not needs & {market.closed.id, market.awarded.id, market.expired.id}


def test_who_gets_a_need_panel(market: Market) -> None:
    assert panels.need_leads(market.lamps, market.buyer_member) is not None
    assert panels.need_leads(market.lamps, market.staff) is not None
    for user in (market.cebu_member, market.vendor_member):
        assert panels.need_leads(market.lamps, user) is None
    assert panels.need_leads(market.closed, market.buyer_member) is None
    assert panels.vendor_leads_for_staff(market.lumenark, market.staff) is not None
    assert panels.vendor_leads_for_staff(market.lumenark, market.vendor_member) is None
    assert panels.vendor_leads_for_staff(market.danang, market.staff) is None


def test_staff_see_every_lead_with_the_reasons(market: Market) -> None:
    dismiss_lead(market.buyer_member, market.lamps, market.lumenark, "not_relevant", "old tech")
    db.session.commit()
    panel = panels.need_leads(market.lamps, market.staff)
    assert panel is not None and not panel.can_dismiss
    row = next(r for r in panel.rows if r.lead.vendor.id == market.lumenark.id)
    assert [(d.reason, d.note) for d in row.dismissals] == [("not_relevant", "old tech")]
    assert [d.vendor_id for d in panel.dismissed] == [market.lumenark.id]
