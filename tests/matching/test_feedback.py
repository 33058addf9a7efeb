"""Dismissing leads: who may, what is stored, and how the reasons change the ranking."""

from __future__ import annotations

import numpy as np
import pytest
from flask import Flask
from matching.feedback_factories import Market, build_market, member, need, organization
from support import count_rows

from portal.extensions import db
from portal.matching import panels
from portal.matching.feedback import (
    OTHER_MARKET_FACTOR,
    FeedbackError,
    NeedLessons,
    NotAllowed,
    Penalty,
    adjuster,
    dismiss_lead,
    dismissals_for_need,
    dismissals_for_vendor,
    dismissed_need_ids,
    dismissed_vendor_ids,
    need_penalties,
    undo_dismissal,
    vendor_penalties,
)
from portal.matching.models import LeadDismissal
from portal.matching.profiles import NeedProfile
from portal.matching.ranking import top
from portal.organizations.models import OrganizationKind


@pytest.fixture
def market(app: Flask) -> Market:
    return build_market()


# --- dismissing ---------------------------------------------------------------------------


def test_a_buyer_member_dismisses_a_vendor_on_its_need(market: Market) -> None:
    d = dismiss_lead(market.buyer_member, market.lamps, market.lumenark, "not_relevant", " meh ")
    db.session.commit()
    assert (d.organization_id, d.need_id, d.vendor_id) == (
        market.danang.id,
        market.lamps.id,
        market.lumenark.id,
    )
    assert d.reason == "not_relevant" and d.note == "meh" and d.user_id == market.buyer_member.id
    assert dismissed_vendor_ids(market.danang.id, market.lamps.id) == {market.lumenark.id}
    assert dismissed_vendor_ids(market.danang.id, market.old_quarter.id) == set()
    assert dismissed_need_ids(market.lumenark.id) == set()  # the vendor still sees the need


def test_a_vendor_member_dismisses_a_need(market: Market) -> None:
    dismiss_lead(market.vendor_member, market.cebu_lamps, market.lumenark, "not_our_market")
    db.session.commit()
    assert dismissed_need_ids(market.lumenark.id) == {market.cebu_lamps.id}
    assert dismissed_vendor_ids(market.cebu.id, market.cebu_lamps.id) == set()


def test_dismissing_twice_updates_the_reason(market: Market) -> None:
    dismiss_lead(market.vendor_member, market.lamps, market.lumenark, "too_small")
    dismiss_lead(market.vendor_member, market.lamps, market.lumenark, "already_in_contact", "x")
    db.session.commit()
    assert count_rows(LeadDismissal) == 1
    row = db.session.scalar(db.select(LeadDismissal))
    assert row is not None and (row.reason, row.note) == ("already_in_contact", "x")


def test_buyer_and_vendor_dismissals_of_one_pair_are_kept_apart(market: Market) -> None:
    dismiss_lead(market.buyer_member, market.lamps, market.lumenark, "not_relevant")
    dismiss_lead(market.vendor_member, market.lamps, market.lumenark, "too_small")
    db.session.commit()
    assert count_rows(LeadDismissal) == 2
    assert [d.reason for d in dismissals_for_need(market.lamps)] == ["too_small", "not_relevant"]
    assert len(dismissals_for_vendor(market.lumenark)) == 2
    assert dismissals_for_vendor(market.brightpath) == []


@pytest.mark.parametrize("who", ["cebu_member", "aquasonic_member", "staff"])
def test_only_the_buyer_or_the_vendor_may_dismiss(market: Market, who: str) -> None:
    user = getattr(market, who)
    with pytest.raises(NotAllowed):
        dismiss_lead(user, market.lamps, market.lumenark, "not_relevant")
    with pytest.raises(NotAllowed):
        undo_dismissal(user, market.lamps, market.lumenark)
    assert count_rows(LeadDismissal) == 0


def test_a_buyer_cannot_dismiss_a_buyer_as_a_vendor(market: Market) -> None:
    with pytest.raises(NotAllowed):
        dismiss_lead(market.buyer_member, market.lamps, market.danang, "not_relevant")


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [("nonsense", "", "reason"), ("", "", "reason"), ("too_small", "x" * 501, "note")],
)
def test_bad_input_is_refused(market: Market, reason: str, note: str, field: str) -> None:
    with pytest.raises(FeedbackError) as caught:
        dismiss_lead(market.buyer_member, market.lamps, market.lumenark, reason, note)
    assert caught.value.field == field
    assert count_rows(LeadDismissal) == 0


def test_a_vendor_cannot_dismiss_a_need_that_is_not_open(market: Market) -> None:
    with pytest.raises(FeedbackError, match="no longer open"):
        dismiss_lead(market.vendor_member, market.closed, market.lumenark, "too_small")
    assert count_rows(LeadDismissal) == 0


def test_undo_restores_the_lead(market: Market) -> None:
    dismiss_lead(market.buyer_member, market.lamps, market.lumenark, "not_relevant")
    assert undo_dismissal(market.buyer_member, market.lamps, market.lumenark) is True
    assert undo_dismissal(market.buyer_member, market.lamps, market.lumenark) is False
    db.session.commit()
    assert count_rows(LeadDismissal) == 0


def test_deleting_a_need_deletes_its_dismissals(market: Market) -> None:
    dismiss_lead(market.buyer_member, market.lamps, market.lumenark, "not_relevant")
    db.session.commit()
    db.session.execute(
        db.delete(type(market.lamps)).where(type(market.lamps).id == market.lamps.id)
    )
    db.session.commit()
    assert count_rows(LeadDismissal) == 0


# --- the adjusters, as plain functions ------------------------------------------------------


def test_an_adjuster_multiplies_penalties_and_reorders() -> None:
    ids = np.array([10, 20, 30], dtype=np.int64)
    scores = np.array([1.0, 0.9, 0.8], dtype=np.float32)
    adjust = adjuster([Penalty(frozenset({10}), 0.5), Penalty(frozenset({10, 30}), 0.85)])
    assert adjust is not None
    adjusted = adjust(ids, scores)
    assert adjusted.dtype == scores.dtype
    assert np.allclose(adjusted, [0.425, 0.9, 0.68])
    assert [int(ids[row]) for row in top(adjusted, 3)] == [20, 30, 10]
    assert np.allclose(scores, [1.0, 0.9, 0.8])  # the input is left alone
    # Standard scores go below zero: a factor then scales the height above the lowest.
    negative = adjust(ids, np.array([-0.5, 0.0, 0.1], dtype=np.float32))
    assert np.allclose(negative, [-0.5, 0.0, -0.5 + 0.6 * 0.85])
    lowest = adjust(ids, np.array([0.2, -1.0, 1.0], dtype=np.float32))
    assert np.allclose(lowest, [-1.0 + 1.2 * 0.425, -1.0, -1.0 + 2.0 * 0.85])


def test_no_penalty_no_adjuster() -> None:
    assert adjuster([]) is None
    assert adjuster([Penalty(frozenset(), 0.5), Penalty(frozenset({1}), 1.0)]) is None


def _profile(
    id: int, country: str, sectors: list[str], budget_max: int | None = None
) -> NeedProfile:
    return NeedProfile(id, f"n{id}", "t", "d", sectors, country, 1, "Buyer", None, budget_max)


def test_a_vendors_lessons_follow_the_documented_rules() -> None:
    lessons = NeedLessons.learn(
        [
            ("not_our_market", _profile(1, "PH", ["water"])),
            ("too_small", _profile(2, "VN", ["energy"], budget_max=80_000)),
            ("too_small", _profile(3, "VN", ["energy"], budget_max=50_000)),
            ("not_relevant", _profile(4, "TH", ["mobility"])),
            ("already_in_contact", _profile(5, "MY", ["health"])),
        ]
    )
    assert lessons.countries == {"PH"}
    assert lessons.budget_ceiling == 50_000  # the smallest dismissed budget
    assert lessons.sectors == {"mobility"}
    assert lessons.factor(_profile(9, "PH", [])) == OTHER_MARKET_FACTOR
    assert lessons.factor(_profile(9, "VN", [], budget_max=50_000)) == 0.5
    assert lessons.factor(_profile(9, "VN", [], budget_max=60_000)) == 1.0
    assert lessons.factor(_profile(9, "VN", [])) == 1.0  # no budget stated: left alone
    assert lessons.factor(_profile(9, "TH", ["mobility", "energy"])) == 0.85
    assert lessons.factor(_profile(9, "MY", ["health"])) == 1.0  # in contact teaches nothing
    assert lessons.factor(_profile(9, "PH", ["mobility"], budget_max=1)) == pytest.approx(
        OTHER_MARKET_FACTOR * 0.5 * 0.85
    )


# --- the adjusters through the database ---------------------------------------------------


def _factors(penalties: list[Penalty], ids: list[int]) -> list[float]:
    adjust = adjuster(penalties)
    scores = np.ones(len(ids), dtype=np.float64)
    if adjust is None:
        return list(scores)
    return [round(float(x), 4) for x in adjust(np.asarray(ids, dtype=np.int64), scores)]


def test_need_penalties_match_the_lessons_on_every_open_need(market: Market) -> None:
    small = need(market.cebu, "Tiny lamp job", budget_max=40_000)
    big = need(market.cebu, "Big lamp job", budget_max=2_000_000)
    water = need(market.cebu, "Cebu water", "Leaks.", sectors=["water"], budget_max=30_000)
    dismiss_lead(market.aquasonic_member, market.cebu_lamps, market.aquasonic, "not_our_market")
    dismiss_lead(market.aquasonic_member, big, market.aquasonic, "too_small")
    db.session.commit()
    # not our market: every Cebu (PH) need x0.21; too small: needs at or below 2,000,000
    # (Da Nang's lamps need, up to 500,000, too); closed needs are never leads at all
    ids = [market.lamps.id, small.id, big.id, water.id, market.closed.id]
    both = round(OTHER_MARKET_FACTOR * 0.5, 4)
    assert _factors(need_penalties(market.aquasonic.id), ids) == [0.5, both, both, both, 1.0]
    dismiss_lead(market.aquasonic_member, market.lamps, market.aquasonic, "not_relevant")
    db.session.commit()
    # not relevant: needs sharing "energy" x0.85 (Da Nang's lamps need itself is hidden)
    assert _factors(need_penalties(market.aquasonic.id), ids) == [
        0.425,
        round(OTHER_MARKET_FACTOR * 0.5 * 0.85, 4),
        round(OTHER_MARKET_FACTOR * 0.5 * 0.85, 4),
        both,
        1.0,
    ]
    assert need_penalties(market.lumenark.id) == []


def test_vendor_penalties_reach_the_buyers_needs_in_a_shared_sector(market: Market) -> None:
    dismiss_lead(market.buyer_member, market.lamps, market.brightpath, "not_relevant")
    dismiss_lead(market.buyer_member, market.lamps, market.aquasonic, "already_in_contact")
    db.session.commit()
    ids = [market.brightpath.id, market.lumenark.id, market.aquasonic.id]
    assert _factors(vendor_penalties(market.old_quarter), ids) == [0.6, 1.0, 1.0]
    assert _factors(vendor_penalties(market.lamps), ids) == [1.0, 1.0, 1.0]  # hidden there
    assert _factors(vendor_penalties(market.water), ids) == [1.0, 1.0, 1.0]  # other sector
    assert _factors(vendor_penalties(market.cebu_lamps), ids) == [1.0, 1.0, 1.0]  # other buyer


def test_a_not_relevant_vendor_drops_on_the_buyers_similar_need(market: Market) -> None:
    before = panels.need_leads(market.old_quarter, market.buyer_member)
    assert before is not None
    scores = {row.lead.vendor.id: row.lead.score for row in before.rows}
    dismiss_lead(market.buyer_member, market.lamps, market.brightpath, "not_relevant")
    db.session.commit()
    after = panels.need_leads(market.old_quarter, market.buyer_member)
    assert after is not None
    new_scores = {row.lead.vendor.id: row.lead.score for row in after.rows}
    assert new_scores[market.brightpath.id] < scores[market.brightpath.id]
    assert new_scores[market.lumenark.id] == pytest.approx(scores[market.lumenark.id])
    assert new_scores[market.aquasonic.id] == pytest.approx(scores[market.aquasonic.id])
    # ...and on the need where it was dismissed, it is hidden
    on_lamps = panels.need_leads(market.lamps, market.buyer_member)
    assert on_lamps is not None
    assert market.brightpath.id not in {row.lead.vendor.id for row in on_lamps.rows}
    assert [d.vendor_id for d in on_lamps.dismissed] == [market.brightpath.id]


def test_not_our_market_reorders_a_vendors_needs(app: Flask) -> None:
    vn = organization(OrganizationKind.BUYER, "Hue", country="VN")
    ph = organization(OrganizationKind.BUYER, "Iloilo", country="PH")
    vendor = organization(
        OrganizationKind.VENDOR,
        "Lamp Co",
        country="US",
        sectors=["energy"],
        markets=["PH"],  # serving PH first ranks the PH needs higher
        capabilities=[("LED streetlight retrofit", "Street lamps with dimming.")],
    )
    user = member(vendor)
    ph_first = need(ph, "Street lamps for the port")
    ph_second = need(ph, "Street lamps for the market")
    vn_need = need(vn, "Street lamps for the citadel")
    kl = organization(OrganizationKind.BUYER, "Kuala Lumpur", country="MY")
    for place in ("north", "south", "east", "west"):  # far from lamps: the floor
        need(kl, f"Leaking mains in the {place}", "Pipes burst.", sectors=["water"])
    panel = panels.needs_for_vendor(vendor)
    order = [row.lead.need.id for row in panel.rows]
    assert order.index(ph_second.id) < order.index(vn_need.id)
    dismiss_lead(user, ph_first, vendor, "not_our_market", "We do not sell in PH")
    db.session.commit()
    panel = panels.needs_for_vendor(vendor)
    order = [row.lead.need.id for row in panel.rows]
    assert ph_first.id not in order  # the dismissed need is hidden
    assert order.index(vn_need.id) < order.index(ph_second.id)
    assert [d.need_id for d in panel.dismissed] == [ph_first.id]


def test_too_small_reorders_a_vendors_needs(app: Flask) -> None:
    city = organization(OrganizationKind.BUYER, "Vientiane", country="LA")
    vendor = organization(
        OrganizationKind.VENDOR,
        "Lamp Co",
        country="US",
        sectors=["energy"],
        capabilities=[("LED streetlight retrofit", "Street lamps with dimming.")],
    )
    user = member(vendor)
    tiny = need(city, "Street lamps for one street", budget_max=20_000)
    small = need(city, "Street lamps for two streets", budget_max=30_000)
    large = need(city, "Street lamps, street lamps everywhere", budget_max=5_000_000)
    unknown = need(city, "Street lamps for three streets")
    scores = {r.lead.need.id: r.lead.score for r in panels.needs_for_vendor(vendor).rows}
    dismiss_lead(user, small, vendor, "too_small")
    db.session.commit()
    after = {r.lead.need.id: r.lead.score for r in panels.needs_for_vendor(vendor).rows}
    assert small.id not in after
    assert after[tiny.id] < scores[tiny.id]
    assert after[large.id] == pytest.approx(scores[large.id])
    assert after[unknown.id] == pytest.approx(scores[unknown.id])
