"""Matching a need against a saved search: a plain function, called directly, that finds
what the search page finds (the same analysis of words) and says why."""

from __future__ import annotations

import pytest
from flask import Flask
from organizations.directory_factories import make_need, make_org

from portal.follows.services import SearchCriteria, match_need
from portal.needs.models import Need
from portal.organizations.models import OrganizationKind
from portal.search.queries import SearchFilters, search
from portal.search.sync import apply_pending_events


@pytest.fixture
def needs(app: Flask) -> dict[str, Need]:
    hanoi = make_org(OrganizationKind.BUYER, "Hanoi Urban Water", country="VN", city="Hanoi")
    cebu = make_org(OrganizationKind.BUYER, "Cebu Water District", country="PH")
    return {
        "sensors": make_need(
            hanoi,
            "Flood sensors for the river basin",
            description="Early warning when the Red River rises; monitoring stations.",
            sectors=["water", "disaster-resilience"],
            notice="rfp",
            funding_source="adb",
            funding_stage="funded",
            budget_min=200_000,
            budget_max=500_000,
        ),
        "leaks": make_need(
            cebu,
            "Water lost before it reaches customers",
            description="Leaks hide under the roads of Saigon and Cebu.",
            sectors=["water"],
        ),
    }


def test_words_are_stemmed_and_each_is_told_where_it_was_found(needs) -> None:
    reasons = match_need(SearchCriteria(words="sensor monitor"), needs["sensors"])
    assert reasons == [
        "words in the title: sensor",
        "words in the description: monitor",
    ]


def test_every_word_must_match_and_stop_words_drop_out(needs) -> None:
    assert match_need(SearchCriteria(words="flood pumps"), needs["sensors"]) is None
    assert match_need(SearchCriteria(words="the flood of"), needs["sensors"]) is not None


def test_place_spellings_and_the_buyer_count_as_the_index_does(needs) -> None:
    # "HCMC" and "Saigon" are one place for the search analyser; the buyer's name and
    # country are part of a need's indexed text.
    assert match_need(SearchCriteria(words="HCMC leaks"), needs["leaks"]) is not None
    assert match_need(SearchCriteria(words="Philippines"), needs["leaks"]) is not None
    assert match_need(SearchCriteria(words="hanoi"), needs["leaks"]) is None


def test_facets_must_all_hold_and_are_given_as_reasons(needs) -> None:
    wanted = SearchCriteria(
        sector="water", country="VN", notice="rfp", funding_source="adb", funding_stage="funded"
    )
    assert match_need(wanted, needs["sensors"]) == [
        "sector: Water",
        "country: Viet Nam",
        "notice: Request for proposals (tender)",
        "funding: Asian Development Bank",
        "funding stage: Funded",
    ]
    assert match_need(wanted, needs["leaks"]) is None
    assert match_need(SearchCriteria(notice="rfi"), needs["sensors"]) is None
    assert match_need(SearchCriteria(funding_stage="idea"), needs["sensors"]) is None


def test_a_language_matches_needs_written_in_it(needs) -> None:
    # the needs directory's "Written in" filter, saved: a need whose language is not known
    # yet (saved before detection ran) matches no language
    needs["sensors"].language = "vi"
    assert match_need(SearchCriteria(language="vi"), needs["sensors"]) == ["written in Vietnamese"]
    assert match_need(SearchCriteria(language="th"), needs["sensors"]) is None
    assert match_need(SearchCriteria(language="vi"), needs["leaks"]) is None


@pytest.mark.parametrize(
    ("low", "high", "matches"),
    [
        (100_000, 250_000, True),  # overlaps the need's 200k-500k
        (500_000, None, True),  # touches its top
        (None, 199_999, False),  # all below it
        (600_000, 900_000, False),  # all above it
    ],
)
def test_a_budget_range_matches_an_overlapping_budget(needs, low, high, matches) -> None:
    reasons = match_need(SearchCriteria(budget_min=low, budget_max=high), needs["sensors"])
    assert (reasons is not None) is matches
    if matches:
        assert reasons[0].startswith("budget US$200,000 to US$500,000 within")


def test_a_need_without_a_budget_does_not_match_a_budget_filter(needs) -> None:
    assert match_need(SearchCriteria(budget_min=0), needs["leaks"]) is None


@pytest.mark.parametrize(
    "words",
    ["flood", "sensors rivers", "leak customer", "water", "saigon", "warning stations", "roads x"],
)
def test_a_saved_search_finds_what_the_search_page_finds(app: Flask, needs, words: str) -> None:
    apply_pending_events()
    page = search(words, SearchFilters(kind="need"))
    found_by_page = {hit.record.id for hit in page.hits} if not page.matched_any else set()
    found_by_match = {
        need.id for need in needs.values() if match_need(SearchCriteria(words=words), need)
    }
    assert found_by_match == found_by_page
