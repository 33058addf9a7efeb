""" "Funded" is a supporting reason: after another reason, never first or alone, and it
never moves a lead up or down nor changes which leads are shown."""

from __future__ import annotations

import pytest
from flask import Flask
from matching.feedback_factories import build_market

from portal.extensions import db
from portal.matching.concepts import thesaurus
from portal.matching.profiles import CapabilityText, NeedProfile, VendorProfile
from portal.matching.reasons import MAX_REASONS, funded_reason, lead_reasons
from portal.matching.services import Lead, current_model


def _need(stage: str | None, source: str | None = "adb", sectors=("water",)) -> NeedProfile:
    return NeedProfile(
        1,
        "n",
        "Our pumps",
        "The pumps stop at night.",
        list(sectors),
        "VN",
        2,
        "Hue",
        funding_source=source if stage else None,
        funding_stage=stage,
    )


def _vendor(markets=("VN",), sectors=("water",), capabilities=None) -> VendorProfile:
    return VendorProfile(
        1,
        "v",
        "Harbourlight",
        "Engineering firm.",
        list(sectors),
        list(markets),
        capabilities
        if capabilities is not None
        else [CapabilityText("Pump control", "Variable drives keep pumps running at night.")],
    )


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("funded", "Funded (Asian Development Bank)"),
        ("procurement", "Funded (Asian Development Bank) and in procurement"),
        ("awarded", None),  # the contract has gone: the money is not there for this vendor
        ("feasibility", None),
        ("idea", None),
        (None, None),
    ],
)
def test_funded_only_while_the_money_is_committed_and_unspent(stage, expected) -> None:
    assert funded_reason(_need(stage)) == expected


def test_funded_follows_the_capability_and_takes_the_last_place() -> None:
    reasons = lead_reasons(_need("funded"), _vendor(), thesaurus())
    assert reasons[0].startswith("“Pump control”")
    assert len(reasons) == MAX_REASONS
    assert reasons[-1] == "Funded (Asian Development Bank)"
    assert reasons[1] == "Already serves Viet Nam, the buyer's country"
    # Without funding the three usual reasons stand as before.
    plain = lead_reasons(_need(None), _vendor(), thesaurus())
    assert plain[:2] == reasons[:2] and "Funded" not in " ".join(plain)


def test_funded_is_never_the_first_or_only_reason() -> None:
    # No capability answers, no shared market or sector: the key-words reason comes first.
    bare = _vendor(markets=(), sectors=("energy",), capabilities=[])
    reasons = lead_reasons(_need("procurement"), bare, thesaurus())
    assert reasons == [
        "Its profile uses several of the need's key words",
        "Funded (Asian Development Bank) and in procurement",
    ]


def _decisions(leads: list[Lead], side: str) -> tuple[list[str], list[bool], list[float]]:
    """What ranking and showing decide: the order, which are shown, and the values."""
    refs = [lead.vendor.ref if side == "vendor" else lead.need.ref for lead in leads]
    return refs, [lead.shown for lead in leads], [lead.probability for lead in leads]


def _assert_same(before: tuple, after: tuple) -> None:
    assert after[0] == before[0] and after[1] == before[1]
    # The edit re-reads the need (its event), which may move float32 sums in the last bits.
    assert after[2] == pytest.approx(before[2], rel=1e-5)


def test_funding_changes_no_ranking_and_no_shown_lead(app: Flask, runner) -> None:
    market = build_market()
    assert runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"]).exit_code == 0
    lamps = market.lamps
    before_vendors = _decisions(current_model().vendors_for(NeedProfile.of(lamps), 20), "vendor")
    vendor_profile = VendorProfile.of(market.lumenark)
    before_needs = _decisions(current_model().needs_for(vendor_profile, 20), "need")
    assert before_vendors[0] and before_needs[0]

    lamps.funding_source, lamps.funding_stage = "world-bank", "funded"
    db.session.commit()

    vendor_leads = current_model().vendors_for(NeedProfile.of(lamps), 20)
    _assert_same(before_vendors, _decisions(vendor_leads, "vendor"))
    need_leads = current_model().needs_for(VendorProfile.of(market.lumenark), 20)
    _assert_same(before_needs, _decisions(need_leads, "need"))
    funded = [lead for lead in need_leads if lead.need.id == lamps.id]
    assert funded and "Funded (World Bank)" in funded[0].reasons
    for lead in vendor_leads:
        assert "Funded (World Bank)" in lead.reasons
        assert lead.reasons[0] != "Funded (World Bank)"
