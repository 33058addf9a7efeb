"""Leads in both directions, their reasons, what is never a lead, and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask

from portal.db import utc_today
from portal.extensions import db
from portal.matching.concepts import thesaurus
from portal.matching.lexical import Bm25
from portal.matching.profiles import NeedProfile, VendorProfile
from portal.matching.services import LeadsModel, current_model
from portal.matching.text import terms
from portal.needs.models import Need
from portal.organizations.models import Capability, Organization, VerificationStatus


def vendor(
    name: str,
    summary: str,
    capabilities: list[tuple[str, str]],
    *,
    sectors=(),
    markets=(),
    verified: bool = True,
) -> Organization:
    org = Organization(
        ref=name.lower().replace(" ", "-"),
        kind="vendor",
        name=name,
        country="US",
        summary=summary,
        sectors=list(sectors),
        markets=list(markets),
        status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
    )
    for i, (title, description) in enumerate(capabilities):
        org.capabilities.append(Capability(title=title, description=description, position=i))
    db.session.add(org)
    return org


@pytest.fixture
def city(app: Flask) -> Organization:
    buyer = Organization(
        ref="battambang",
        kind="buyer",
        name="Battambang Municipality",
        country="KH",
        city="Battambang",
        status=VerificationStatus.VERIFIED,
    )
    db.session.add(buyer)
    return buyer


@pytest.fixture
def market(app: Flask, city: Organization) -> dict[str, object]:
    lighting = vendor(
        "Lumenark Lighting",
        "Municipal lighting upgrades.",
        [
            (
                "LED streetlight retrofit",
                "Luminaires with dimming, fault reporting and a central "
                "management system that cuts the energy bill.",
            )
        ],
        sectors=["energy"],
        markets=["KH", "VN"],
    )
    leaks = vendor(
        "Aquasonic",
        "Water loss reduction for utilities.",
        [
            (
                "Acoustic leak correlation",
                "Finds hidden leaks in distribution mains; "
                "non-revenue water audits and district metered areas.",
            )
        ],
        sectors=["water"],
        markets=["PH"],
    )
    signals = vendor(
        "Greenwave Signals",
        "Traffic engineering.",
        [
            (
                "Adaptive signal control",
                "Retimes intersections every cycle from radar detection "
                "to cut congestion and queue lengths.",
            )
        ],
        sectors=["mobility"],
        markets=["KH"],
    )
    pending = vendor(
        "Unverified Lamps",
        "Street lights.",
        [("Street light repair", "Lamps and poles.")],
        sectors=["energy"],
        markets=["KH"],
        verified=False,
    )
    dark = Need(
        ref="bb-lights",
        buyer=city,
        sectors=["energy"],
        title="Dark riverside streets and a rising electricity bill",
        description="Along the river the lamps we installed years ago are failing one by "
        "one. The night market is half dark, and the bill for the street lamps grows every "
        "month. Nobody knows which lamp is broken until a resident complains.",
    )
    queues = Need(
        ref="bb-bridge",
        buyer=city,
        sectors=["mobility"],
        title="Evening queues at the bridge",
        description="Every evening the queues at the bridge stretch two kilometres and "
        "motorbikes wait through several red lights.",
    )
    closed = Need(
        ref="bb-old",
        buyer=city,
        title="Old lighting tender",
        status="closed",
        description="Street lamps, closed.",
        sectors=["energy"],
    )
    awarded = Need(
        ref="bb-won",
        buyer=city,
        title="Awarded lamps",
        status="awarded",
        description="Street lamps, awarded.",
        sectors=["energy"],
    )
    expired = Need(
        ref="bb-late",
        buyer=city,
        title="Expired lamps",
        closes_on=utc_today() - dt.timedelta(days=1),
        description="Street lamps, past the closing date.",
        sectors=["energy"],
    )
    db.session.add_all([dark, queues, closed, awarded, expired])
    db.session.commit()
    return {
        "lighting": lighting,
        "leaks": leaks,
        "signals": signals,
        "pending": pending,
        "dark": dark,
        "queues": queues,
    }


def test_bm25_prefers_the_rarer_matching_term() -> None:
    bm25 = Bm25.build(
        [terms("street lighting lighting"), terms("street water"), terms("street traffic")]
    )
    scores = bm25.scores(terms("lighting street"))
    assert scores.argmax() == 0
    assert scores[1] == scores[2] > 0


def test_the_thesaurus_bridges_problem_and_solution_words() -> None:
    t = thesaurus()
    problem = t.match(terms("the lamps along the river keep failing at night"))
    solution = t.match(terms("LED streetlight retrofit with dimming"))
    shared = set(problem.strengths) & set(solution.strengths)
    assert any(t.concepts[c].id == "streetlighting" for c in shared)


def test_a_need_in_problem_words_finds_the_vendor_with_the_solution(market) -> None:
    model = current_model()
    leads = model.vendors_for(NeedProfile.of(market["dark"]))
    assert leads[0].vendor.name == "Lumenark Lighting"
    reasons = " | ".join(leads[0].reasons)
    assert "LED streetlight retrofit" in reasons
    assert "Cambodia" in reasons  # already serves the buyer's country
    queues = model.vendors_for(NeedProfile.of(market["queues"]))
    assert queues[0].vendor.name == "Greenwave Signals"


def test_a_vendor_finds_the_needs_it_could_win(market) -> None:
    model = current_model()
    leads = model.needs_for(VendorProfile.of(market["lighting"]))
    assert leads[0].need.ref == "bb-lights"
    assert 1 <= len(leads[0].reasons) <= 3


def test_unverified_vendors_and_closed_awarded_or_expired_needs_are_never_leads(market) -> None:
    model = current_model()
    need = NeedProfile.of(market["dark"])
    vendor_names = {lead.vendor.name for lead in model.vendors_for(need, 50)}
    assert "Unverified Lamps" not in vendor_names
    assert len(vendor_names) == 3
    need_refs = {
        lead.need.ref for lead in model.needs_for(VendorProfile.of(market["lighting"]), 50)
    }
    assert need_refs == {"bb-lights", "bb-bridge"}


def test_the_model_follows_changes(market) -> None:
    before = current_model()
    market["leaks"].markets = ["KH"]
    db.session.commit()
    after = current_model()
    assert after is not before
    leads = after.vendors_for(NeedProfile.of(market["dark"]), 3)
    assert "KH" in next(lead.vendor for lead in leads if lead.vendor.name == "Aquasonic").markets


def test_excluded_vendors_are_skipped(market) -> None:
    model = current_model()
    leads = model.vendors_for(NeedProfile.of(market["dark"]), exclude={market["lighting"].id})
    assert "Lumenark Lighting" not in {lead.vendor.name for lead in leads}


def test_an_empty_portal_has_no_leads(app: Flask) -> None:
    model = LeadsModel.from_profiles([], [], thesaurus())
    need = NeedProfile(1, "x", "Flooding", "Streets flood.", [], "PH", 1, "Buyer")
    assert model.vendors_for(need) == []


def test_cli_leads_for_a_need_and_a_vendor(market, runner) -> None:
    result = runner.invoke(args=["leads", "need", "bb-lights", "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["vendor"] == "lumenark-lighting" and len(rows) == 2
    assert rows[0]["score"] >= rows[1]["score"]
    result = runner.invoke(args=["leads", "vendor", "lumenark-lighting"])
    assert result.exit_code == 0 and "bb-lights" in result.output
    assert ", probability " in result.output  # each lead's strength, as a page shows it
    result = runner.invoke(args=["leads", "need", "no-such-need"])
    assert result.exit_code != 0 and "no need with ref" in result.output


def test_cli_leads_mark_where_a_page_folds_the_weaker_ones(capsys) -> None:
    from portal.matching.cli import _print

    def row(ref: str, strength: str, probability: float) -> dict[str, object]:
        shown = strength != "weak"
        return {
            "vendor": ref,
            "score": probability,
            "probability": probability,
            "strength": strength,
            "shown": shown,
            "reasons": [f"“Capability” {'answers' if shown else 'relates to'} “the ask”"],
        }

    _print(
        [
            row("v-1", "strong", 0.91),
            row("v-2", "possible", 0.5),
            row("v-3", "weak", 0.1),
            row("v-4", "weak", 0.05),
        ],
        as_json=False,
        side="vendor",
    )
    lines = capsys.readouterr().out.splitlines()
    heads = [line for line in lines if not line.startswith("      - ")]
    assert heads == [
        " 1. v-1  strong, probability 0.91, score 0.91",
        " 2. v-2  possible, probability 0.50, score 0.5",
        '    (weaker matches: a page shows these only on "show more")',
        " 3. v-3  weak, probability 0.10, score 0.1",
        " 4. v-4  weak, probability 0.05, score 0.05",
    ]


def test_cli_export_writes_every_open_need_best_first(market, runner, tmp_path) -> None:
    out = tmp_path / "leads.jsonl"
    result = runner.invoke(
        args=["leads", "export", "--for", "needs", "--limit", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["need"] for row in rows} == {"bb-lights", "bb-bridge"}
    for row in rows:
        scores = [lead["score"] for lead in row["leads"]]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        assert all(lead["reasons"] for lead in row["leads"])
    result = runner.invoke(args=["leads", "export", "--for", "vendors", "--out", str(out)])
    assert result.exit_code == 0
    assert len(out.read_text().splitlines()) == 3  # the verified vendors


def test_rebuild_writes_a_snapshot_that_a_new_process_loads(market, runner) -> None:
    from portal.matching.store.snapshot import load_snapshot, process_cache
    from portal.search.index import IndexStore

    result = runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    generation = IndexStore.from_app().current_generation()
    snapshot = load_snapshot(generation)
    assert snapshot is not None
    assert set(snapshot.vendors.ids) == {market[k].id for k in ("lighting", "leaks", "signals")}
    process_cache.snapshots.clear()
    process_cache.models.clear()  # as a fresh process would start
    leads = current_model().vendors_for(NeedProfile.of(market["dark"]))
    assert leads[0].vendor.name == "Lumenark Lighting"


def test_changes_after_the_snapshot_reach_the_leads_without_a_rebuild(market, runner) -> None:
    runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    model = current_model()
    assert model.vendors_for(NeedProfile.of(market["dark"]))[0].vendor.name == "Lumenark Lighting"
    # The lighting vendor is suspended and a new one joins: both are changes since then.
    market["lighting"].status = VerificationStatus.REJECTED
    vendor(
        "Nightwatch Luminaires",
        "Street lighting.",
        [("Streetlight LED retrofit", "Luminaires, dimming and fault reporting for lamps.")],
        sectors=["energy"],
        markets=["KH"],
    )
    db.session.commit()
    names = [
        lead.vendor.name for lead in current_model().vendors_for(NeedProfile.of(market["dark"]))
    ]
    assert "Lumenark Lighting" not in names
    assert names[0] == "Nightwatch Luminaires"


def test_a_need_past_its_closing_date_stops_being_a_lead_with_no_event(
    market, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    market["queues"].closes_on = utc_today() + dt.timedelta(days=3)
    db.session.commit()
    runner.invoke(args=["index", "rebuild", "--procs", "1", "--no-progress"])
    vendor_profile = VendorProfile.of(market["signals"])
    assert "bb-bridge" in {lead.need.ref for lead in current_model().needs_for(vendor_profile)}
    # Nothing changes in the database; only the calendar moves past the closing date.
    later = utc_today() + dt.timedelta(days=4)
    monkeypatch.setattr("portal.matching.ranking.utc_today", lambda: later)
    refs = {lead.need.ref for lead in current_model().needs_for(vendor_profile)}
    assert "bb-bridge" not in refs


def test_concept_matches_carry_their_evidence() -> None:
    """Regression: a concept whose phrase only began to match was kept with no evidence,
    and reasons quoted nothing: 'answers the need's street lighting problem ()'."""
    t = thesaurus()
    from portal.matching.text import phrase_terms

    match = t.match(phrase_terms("Remote patient monitoring for clinics and street markets"))
    for concept, strength in match.strengths.items():
        assert strength > 0 and match.evidence[concept], t.concepts[concept].id


def _profiles_sharing(words_of_capability: str) -> tuple[NeedProfile, VendorProfile]:
    from portal.matching.profiles import CapabilityText

    need = NeedProfile(
        id=1,
        ref="n",
        title="Evening queues",
        description="Cars back up for two kilometres near the regional centre every evening.",
        sectors=[],
        country="VN",
        buyer_id=9,
        buyer_name="City",
    )
    vendor = VendorProfile(
        id=2,
        ref="v",
        name="Vendor",
        summary="",
        sectors=[],
        markets=[],
        capabilities=[CapabilityText("Ledger", words_of_capability)],
    )
    return need, vendor


def test_one_shared_word_is_no_reason_two_distinctive_ones_are() -> None:
    """Regression: a telehealth vendor's lead for a traffic need said it 'covers “back”
    from the need' (cash back, back up): one shared word is a coincidence."""
    from portal.matching.reasons import capability_reason

    need, vendor = _profiles_sharing("Cash back on every purchase.")
    assert capability_reason(need, vendor, thesaurus()) is None
    need, vendor = _profiles_sharing("Counts queues of cars at every kilometre of road.")
    reason = capability_reason(need, vendor, thesaurus())
    assert reason is not None and "“Ledger” covers" in reason


def test_common_words_are_not_quoted_when_the_vendors_idf_is_known() -> None:
    from portal.matching.reasons import capability_reason

    need, vendor = _profiles_sharing("Counts queues of cars at every kilometre of road.")
    everywhere = {t: 0.1 for t in terms("queues cars kilometre")}
    assert capability_reason(need, vendor, thesaurus(), lambda t: everywhere.get(t, 0.0)) is None
