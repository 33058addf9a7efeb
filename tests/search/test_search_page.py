"""/search: plain words only, facets, snippets, suggestions, and nothing stale or private."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.db import utc_now
from portal.extensions import db
from portal.needs.models import Need
from portal.organizations.models import Capability, Contact, Organization, VerificationStatus
from portal.search.queries import SearchFilters, plain_words, search
from portal.search.sync import apply_pending_events

MALFORMED = [
    '"unbalanced quote',
    "(((brackets",
    "AND OR ~~ :::",
    "NOT",
    "title:leak*",
    "leak^^^3 [a TO",
    "\\\\ // '' ``",
    "🌊 flood",
    "a" * 600,
    "",
    "   ",
    "<script>alert(1)</script>",
]


def org(
    kind: str,
    name: str,
    country: str,
    *,
    summary: str = "",
    sectors=(),
    markets=(),
    capabilities=(),
    verified: bool = True,
) -> Organization:
    record = Organization(
        ref=name.lower().replace(" ", "-"),
        kind=kind,
        name=name,
        country=country,
        summary=summary,
        sectors=list(sectors),
        markets=list(markets),
        status=VerificationStatus.VERIFIED if verified else VerificationStatus.PENDING,
        verified_at=utc_now() if verified else None,
    )
    for title, description in capabilities:
        record.capabilities.append(Capability(title=title, description=description))
    record.contacts.append(
        Contact(name="Private Person", email=f"private@{record.ref}.example", phone="+1 555 0100")
    )
    db.session.add(record)
    return record


@pytest.fixture
def corpus(app: Flask) -> dict[str, object]:
    lighting = org(
        "vendor",
        "Lumen Streetlights",
        "US",
        sectors=["energy"],
        markets=["KH", "VN"],
        summary="LED street lighting with remote fault monitoring.",
        capabilities=[("Streetlight retrofit", "Dimming and fault alerts per pole")],
    )
    water = org(
        "vendor",
        "Aqua Leak Finders",
        "US",
        sectors=["water"],
        markets=["PH"],
        summary="Acoustic leak correlation for water utilities.",
        capabilities=[("Leak detection", "Finds hidden leaks in distribution pipes")],
    )
    hidden = org(
        "vendor",
        "Unverified Leak Co",
        "US",
        sectors=["water"],
        summary="Leak detection too.",
        verified=False,
    )
    buyer = org(
        "buyer",
        "Cebu Water District",
        "PH",
        sectors=["water"],
        summary="Water supply for Cebu City.",
    )
    need = Need(
        ref="cebu-nrw",
        buyer=buyer,
        title="Water lost before it reaches customers",
        description="A third of the water we treat never reaches a paying customer; "
        "leaks hide under the roads.",
        sectors=["water"],
    )
    closed = Need(
        ref="cebu-old",
        buyer=buyer,
        title="Old leak survey",
        status="closed",
        description="Leak survey of 2019.",
        sectors=["water"],
    )
    db.session.add_all([need, closed])
    db.session.commit()
    apply_pending_events()
    return {
        "lighting": lighting,
        "water": water,
        "hidden": hidden,
        "buyer": buyer,
        "need": need,
        "closed": closed,
    }


def test_search_finds_vendors_needs_and_buyers_with_facets(corpus, client: FlaskClient) -> None:
    response = client.get("/search?q=leak")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Aqua Leak Finders" in page
    assert "Water lost before it reaches customers" in page
    assert "Unverified Leak Co" not in page
    assert "Old leak survey" not in page
    assert "<mark>" in page  # highlighted snippet
    results = search("leak")
    kinds = dict(results.facets["kind"])
    assert kinds == {"vendor": 1, "need": 1}
    assert dict(results.facets["sectors"]) == {"water": 2}


def test_filters_narrow_the_results(corpus, app: Flask) -> None:
    results = search("", SearchFilters(kind="vendor", market="KH"))
    assert [hit.record.name for hit in results.hits] == ["Lumen Streetlights"]
    results = search("water", SearchFilters(country="PH"))
    assert {hit.kind for hit in results.hits} == {"buyer", "need"}


def test_unknown_filter_values_are_ignored_with_a_note(corpus, client: FlaskClient) -> None:
    response = client.get("/search?q=leak&sector=plumbing&country=ZZ")
    assert response.status_code == 200
    assert "Ignored the unknown sector" in response.get_data(as_text=True)


def test_did_you_mean_for_a_misspelling(corpus, app: Flask) -> None:
    results = search("lekas detction")
    assert results.suggestion is not None
    assert "detection" in results.suggestion


def test_falls_back_to_any_word_when_no_record_has_all(corpus, app: Flask) -> None:
    results = search("streetlight acoustic")
    assert results.matched_any
    assert {hit.record.name for hit in results.hits} == {"Lumen Streetlights", "Aqua Leak Finders"}


@pytest.mark.parametrize("text", MALFORMED)
def test_any_input_is_searched_as_plain_words(corpus, client: FlaskClient, text: str) -> None:
    response = client.get("/search", query_string={"q": text, "page": "x"})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_plain_words_strip_all_syntax() -> None:
    assert plain_words('"leak (detection" AND ~~ :::') == ["leak", "detection", "AND"]
    assert len(plain_words("word " * 100)) == 32


def test_contacts_never_appear_in_search(corpus, client: FlaskClient) -> None:
    page = client.get("/search?q=private").get_data(as_text=True)
    page += client.get("/search?q=leak").get_data(as_text=True)
    assert "private@" not in page and "555 0100" not in page


def test_a_stale_index_never_shows_a_record_that_stopped_being_public(corpus, app: Flask) -> None:
    """The record changes but its events are not applied yet: the hit is still dropped."""
    water = corpus["water"]
    water.status = VerificationStatus.REJECTED
    need = corpus["need"]
    need.status = "awarded"
    db.session.commit()  # no drain: the index still has both documents
    names = {getattr(hit.record, "name", None) or hit.record.title for hit in search("leak").hits}
    assert "Aqua Leak Finders" not in names
    assert "Water lost before it reaches customers" not in names


def test_pagination(app: Flask) -> None:
    for i in range(25):
        org("vendor", f"Flood Sensor Vendor {i:02d}", "US", summary="flood sensors")
    db.session.commit()
    apply_pending_events()
    first = search("flood", page=1, page_size=10)
    third = search("flood", page=3, page_size=10)
    assert first.total == 25 and first.pages == 3 and len(first.hits) == 10
    assert len(third.hits) == 5 and not third.has_next
    beyond = search("flood", page=9, page_size=10)
    assert beyond.page == 3 and len(beyond.hits) == 5
