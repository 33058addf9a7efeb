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
from portal.matching.services import current_model
from portal.needs.models import Need


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


def _ranked(need: Need) -> list[tuple[str, float, float, bool]]:
    """The need's vendor leads as what ranking and showing decide: order, values, shown."""
    profile = NeedProfile.of(need)
    return [
        (lead.vendor.ref, lead.score, lead.probability, lead.shown)
        for lead in current_model().vendors_for(profile, 20)
    ]


def test_funding_changes_no_ranking_and_no_shown_lead(app: Flask, runner) -> None:
    market = build_market()
    assert runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"]).exit_code == 0
    lamps = market.lamps
    before_vendors = _ranked(lamps)
    vendor_profile = VendorProfile.of(market.lumenark)
    before_needs = [
        (lead.need.ref, lead.score, lead.probability, lead.shown)
        for lead in current_model().needs_for(vendor_profile, 20)
    ]
    assert before_vendors and before_needs

    lamps.funding_source, lamps.funding_stage = "world-bank", "funded"
    db.session.commit()

    assert _ranked(lamps) == before_vendors
    after_needs = current_model().needs_for(VendorProfile.of(market.lumenark), 20)
    assert [(x.need.ref, x.score, x.probability, x.shown) for x in after_needs] == before_needs
    funded = [lead for lead in after_needs if lead.need.id == lamps.id]
    assert funded and "Funded (World Bank)" in funded[0].reasons
    for lead in current_model().vendors_for(NeedProfile.of(lamps), 20):
        assert "Funded (World Bank)" in lead.reasons
        assert lead.reasons[0] != "Funded (World Bank)"
