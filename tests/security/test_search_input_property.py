"""Whatever a visitor types into search: results or an empty page, never an exception or a 500.

Hypothesis drives both the query functions (``plain_words``, ``SearchFilters.from_args``,
``search``) and /search over HTTP with arbitrary text: query operators, quotes, brackets,
every Unicode category, control characters and very long input, with arbitrary filters
and page numbers beside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from organizations.directory_factories import make_need, make_org
from werkzeug.datastructures import MultiDict

from portal.organizations.models import OrganizationKind
from portal.search.queries import MAX_QUERY_WORDS, SearchFilters, SearchResults, plain_words, search
from portal.search.schema import is_searchable_need
from portal.search.sync import apply_pending_events

SYNTAX = [
    '"',
    "'",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "AND",
    "OR",
    "NOT",
    "ANDNOT",
    "ANDMAYBE",
    "TO",
    "*",
    "?",
    "~",
    "^",
    ":",
    "\\",
    "/",
    "-",
    "+",
    "title:",
    "kind:__state__",
    "<script>",
    "%00",
    "\x00",
    "😀",
    "Hà Nội",
    "ﬁ",
    "İ",
    "\u200b",
    "\u202e",
    "flood",
    "water",
    "sensors",
]
fragments = st.sampled_from(SYNTAX) | st.text(max_size=12)
queries = st.one_of(
    st.text(),
    st.lists(fragments, max_size=12).map(" ".join),
    st.lists(fragments, max_size=12).map("".join),
    st.tuples(fragments, st.integers(min_value=50, max_value=400)).map(lambda t: t[0] * t[1]),
)
filter_values = st.sampled_from(
    ["", "vendor", "need", "buyer", "water", "VN", "US", "ZZ"]
) | st.text(max_size=20)
pages = st.sampled_from(["", "0", "-1", "2", "999999999999999999999", "1e3", "x"]) | st.text(
    max_size=6
)


@pytest.fixture
def corpus(app: Flask) -> Iterator[None]:
    buyer = make_org(OrganizationKind.BUYER, "Da Nang Water Authority")
    make_org(OrganizationKind.VENDOR, "Flood Sensors Inc.", summary="River flood sensors")
    make_need(buyer, "Flood sensors for the river basin", description="Water level sensors")
    apply_pending_events()
    yield


def assert_sane(results: SearchResults) -> None:
    assert results.total >= 0
    # With no hits Whoosh reports page 0 of 0; the page then shows no pagination at all.
    assert results.page >= 1 or results.total == 0
    assert len(results.hits) <= results.page_size
    for hit in results.hits:
        record = hit.record
        assert is_searchable_need(record) if hit.kind == "need" else record.is_verified


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=queries,
    kind=filter_values,
    sector=filter_values,
    country=filter_values,
    market=filter_values,
    page=st.integers(min_value=-(2**63), max_value=2**63),
)
def test_the_query_functions_take_any_input(
    corpus: None,
    text: str,
    kind: str,
    sector: str,
    country: str,
    market: str,
    page: int,
) -> None:
    words = plain_words(text)
    assert len(words) <= MAX_QUERY_WORDS
    assert all(word.strip() for word in words)
    filters, notes = SearchFilters.from_args(
        MultiDict({"kind": kind, "sector": sector, "country": country, "market": market})
    )
    assert all(isinstance(note, str) for note in notes)
    assert_sane(search(text, filters, page=page, page_size=5))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=queries, kind=filter_values, sector=filter_values, market=filter_values, page=pages)
def test_the_search_page_answers_any_query_with_a_page(
    corpus: None, client: FlaskClient, q: str, kind: str, sector: str, market: str, page: str
) -> None:
    response = client.get(
        "/search",
        query_string={"q": q, "kind": kind, "sector": sector, "market": market, "page": page},
    )
    if any("\x00" in value for value in (q, kind, sector, market, page)):
        assert response.status_code == 400  # a NUL is a bad request anywhere (request_input)
        return
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("</header>", 1)[1]


def test_a_query_with_only_syntax_is_an_empty_search_not_an_error(corpus: None) -> None:
    results = search('"( AND ) OR ~~ ::: [ TO ] ^^^ *')
    assert_sane(results)
    assert plain_words('"( AND ) OR ~~ :::') == ["AND", "OR"]
