"""The public API: vendors, buyers, needs and search, for anyone, as the pages show them.

Every answer goes through the ``api`` client, which checks it against the OpenAPI
document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pytest
from api.api_factories import API, ApiClient
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import make_contact, make_need, make_org

from portal.db import utc_now
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.notices.models import NoticeAmendment, NoticeDocument, NoticeQuestion
from portal.organizations.models import Capability, Organization, OrganizationKind
from portal.search.sync import apply_pending_events

BUYER = OrganizationKind.BUYER
VENDOR = OrganizationKind.VENDOR
PAST = dt.date(2000, 1, 1)


@dataclass
class Market:
    hue: Organization
    cebu: Organization
    hidden_buyer: Organization
    public: list[Need]
    hidden: list[Need]
    vendor: Organization
    pending_vendor: Organization


@pytest.fixture
def market(app: Flask) -> Market:
    """Two verified buyers with 7 public needs between them, and what must not be listed:
    a closed, an awarded and an expired need, a need of an unverified buyer, and an
    unverified vendor."""
    hue = make_org(BUYER, "Hue Water Board", country="VN", sectors=["water"])
    cebu = make_org(BUYER, "Cebu Transit", country="PH", sectors=["mobility"])
    hidden_buyer = make_org(BUYER, "Unverified Town", verified=False)
    public = [make_need(hue, f"Hue need {n}", sectors=["water"]) for n in range(4)]
    public += [
        make_need(
            cebu,
            f"Cebu need {n}",
            sectors=["mobility"],
            notice="rfp",
            funding_source="adb",
            funding_stage="funded",
            budget_min=100_000,
            budget_max=250_000,
            closes_on=dt.date(2099, 1, 31),
        )
        for n in range(3)
    ]
    hidden = [
        make_need(hue, "Closed need", status=NeedStatus.CLOSED),
        make_need(hue, "Awarded need", status=NeedStatus.AWARDED),
        make_need(hue, "Expired need", closes_on=PAST),
        make_need(hidden_buyer, "Need of an unverified buyer"),
    ]
    vendor = make_org(VENDOR, "Lumen Grid Inc", markets=["VN"], sectors=["energy"])
    db.session.add(Capability(organization=vendor, title="Smart meters", description="AMI"))
    make_contact(vendor, "Vera Volt", "vera.volt@lumengrid.example", "+1 512 555 0142")
    make_contact(hue, "Bui Minh", "minh.bui@hue-water.example", "+84 234 555 0107")
    pending_vendor = make_org(VENDOR, "Pending Vendor Co", verified=False)
    db.session.commit()
    return Market(hue, cebu, hidden_buyer, public, hidden, vendor, pending_vendor)


# --- needs --------------------------------------------------------------------------------


def test_needs_page_through_exactly_the_open_public_needs(api: ApiClient, market: Market) -> None:
    items = api.pages(f"{API}/needs?limit=3")
    refs = [item["ref"] for item in items]
    assert len(refs) == len(set(refs))  # no need twice across pages
    assert set(refs) == {need.ref for need in market.public}
    assert {item["status"] for item in items} == {"open"}
    # 7 needs in pages of 3: three pages, the last with one
    first = api.get(f"{API}/needs?limit=3").get_json()
    assert len(first["items"]) == 3 and first["next"].startswith("http://localhost/api/v1/")


def test_a_need_says_its_notice_funding_budget_and_buyer(api: ApiClient, market: Market) -> None:
    need = market.public[-1]
    body = api.get(f"{API}/needs/{need.ref}").get_json()
    assert body["notice"] == "rfp"
    assert body["funding"] == {"source": "adb", "stage": "funded"}
    assert body["budget"] == {"currency": "USD", "min": 100_000, "max": 250_000}
    assert body["closes_on"] == "2099-01-31"
    assert body["sectors"] == ["mobility"]
    assert body["buyer"] == {
        "ref": market.cebu.ref,
        "kind": "buyer",
        "name": "Cebu Transit",
        "country": "PH",
    }
    assert body["documents"] == body["amendments"] == body["answers"] == []
    concept = api.get(f"{API}/needs/{market.public[0].ref}").get_json()
    assert concept["notice"] == "concept" and concept["funding"] is None
    assert concept["budget"] is None


def test_a_need_carries_its_documents_amendments_and_public_answers_only(
    api: ApiClient, market: Market
) -> None:
    need = market.public[-1]
    vendor = market.vendor
    db.session.add_all(
        [
            NoticeDocument(
                need_id=need.id,
                storage_name="a" * 32,
                filename="terms-of-reference.pdf",
                kind="pdf",
                size=1234,
                sha256=hashlib.sha256(b"x").hexdigest(),
            ),
            NoticeAmendment(
                need_id=need.id,
                number=1,
                changes=[{"field": "closes_on", "old": "2099-01-01", "new": "2099-01-31"}],
                note="More time for bidders.",
            ),
            NoticeQuestion(
                need_id=need.id,
                organization_id=vendor.id,
                body="Is a pilot phase allowed?",
                answer="Yes, of up to six months.",
                answered_at=utc_now(),
            ),
            NoticeQuestion(
                need_id=need.id,
                organization_id=vendor.id,
                body="An unanswered question stays private",
            ),
        ]
    )
    db.session.commit()
    response = api.get(f"{API}/needs/{need.ref}")
    body = response.get_json()
    [document] = body["documents"]
    assert document["filename"] == "terms-of-reference.pdf" and document["size"] == 1234
    [amendment] = body["amendments"]
    assert amendment["number"] == 1 and amendment["note"] == "More time for bidders."
    assert amendment["changes"] == [
        {"field": "closes_on", "old": "2099-01-01", "new": "2099-01-31"}
    ]
    [answer] = body["answers"]
    assert answer == {
        "question": "Is a pilot phase allowed?",
        "answer": "Yes, of up to six months.",
        "asked_at": answer["asked_at"],
        "answered_at": answer["answered_at"],
    }
    assert "unanswered" not in response.text
    assert "Lumen Grid" not in response.text  # the asker is never named
    assert "storage_name" not in response.text and "a" * 32 not in response.text


@pytest.mark.parametrize("index", range(4))
def test_needs_that_are_not_public_do_not_exist(api: ApiClient, market: Market, index: int) -> None:
    need = market.hidden[index]
    response = api.get(f"{API}/needs/{need.ref}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_needs_filters(api: ApiClient, market: Market) -> None:
    def refs(query: str) -> set[str]:
        return {item["ref"] for item in api.pages(f"{API}/needs?{query}")}

    cebu = {need.ref for need in market.public[4:]}
    hue = {need.ref for need in market.public[:4]}
    assert refs("notice=rfp") == cebu
    assert refs("funding_source=adb&funding_stage=funded") == cebu
    assert refs("funding_stage=idea") == set()
    assert refs("country=VN") == hue
    assert refs("sector=water") == hue
    assert refs(f"buyer={market.cebu.ref}") == cebu
    assert refs("q=HUE+NEED") == hue


@pytest.mark.parametrize(
    "query",
    [
        "notice=tender",
        "funding_source=bank",
        "sector=space",
        "country=US",
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "cursor=",
        "cursor=not-a-cursor",
        "q=" + "x" * 201,
    ],
)
def test_bad_parameters_are_400_problems(api: ApiClient, market: Market, query: str) -> None:
    response = api.get(f"{API}/needs?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request" and problem["detail"]


def test_next_keeps_the_query_even_parameters_named_like_url_fors_keywords(
    api: ApiClient, market: Market
) -> None:
    body = api.get(f"{API}/needs?limit=2&country=VN&_external=0&_anchor=x").get_json()
    assert body["next"].startswith("http://localhost/api/v1/needs?")
    assert "country=VN" in body["next"] and "_anchor=x" in body["next"]
    assert "#" not in body["next"]
    assert len(api.pages(body["next"])) == 2  # Hue's 4 needs, after the first 2


def test_a_cursor_cannot_be_edited_or_carried_to_another_list(
    api: ApiClient, market: Market
) -> None:
    next_url = api.get(f"{API}/needs?limit=2").get_json()["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert api.get(f"{API}/needs?cursor={tampered}").status_code == 400
    assert api.get(f"{API}/vendors?cursor={cursor}").status_code == 400
    assert api.get(f"{API}/needs?cursor={cursor}").status_code == 200


# --- vendors and buyers -------------------------------------------------------------------


def test_vendors_and_buyers_are_the_verified_ones(api: ApiClient, market: Market) -> None:
    vendors = api.pages(f"{API}/vendors?limit=1")
    assert [item["ref"] for item in vendors] == [market.vendor.ref]
    [vendor] = vendors
    assert vendor["markets"] == ["VN"] and vendor["capabilities"][0]["title"] == "Smart meters"
    buyers = {item["ref"] for item in api.pages(f"{API}/buyers")}
    assert buyers == {market.hue.ref, market.cebu.ref}
    pending = market.pending_vendor.ref
    assert api.get(f"{API}/vendors/{pending}").status_code == 404
    hidden = market.hidden_buyer.ref
    assert api.get(f"{API}/buyers/{hidden}").status_code == 404
    # a vendor is not found as a buyer, nor the other way round
    assert api.get(f"{API}/buyers/{market.vendor.ref}").status_code == 404
    buyer = api.get(f"{API}/buyers/{market.hue.ref}").get_json()
    assert buyer["needs_url"].endswith(f"/api/v1/needs?buyer={market.hue.ref}")
    assert len(api.pages(buyer["needs_url"])) == 4


def test_vendor_and_buyer_filters(api: ApiClient, market: Market) -> None:
    assert len(api.pages(f"{API}/vendors?market=VN&sector=energy")) == 1
    assert api.pages(f"{API}/vendors?market=TH") == []
    assert api.pages(f"{API}/vendors?q=lumen")[0]["name"] == "Lumen Grid Inc"
    assert [b["name"] for b in api.pages(f"{API}/buyers?country=PH")] == ["Cebu Transit"]
    assert api.get(f"{API}/buyers?country=XX").status_code == 400
    assert api.get(f"{API}/vendors?market=US").status_code == 400


def test_contact_details_typed_into_free_text_are_not_served(
    api: ApiClient, market: Market
) -> None:
    vendor = market.vendor
    vendor.summary = "Write to sales@lumengrid.example or call +1 (512) 555-0199 today."
    db.session.commit()
    body = api.get(f"{API}/vendors/{vendor.ref}").get_json()
    assert body["summary"] == (
        "Write to [email address removed] or call [phone number removed] today."
    )


# --- search ---------------------------------------------------------------------------------


def test_search_pages_through_public_matches_with_facets(api: ApiClient, market: Market) -> None:
    apply_pending_events()
    hits = api.pages(f"{API}/search?q=need&limit=2")
    refs = {hit["ref"] for hit in hits}
    assert refs == {need.ref for need in market.public}
    body = api.get(f"{API}/search?q=need&kind=need").get_json()
    assert body["total"] == 7
    assert {"value": "need", "count": 7} in body["facets"]["kind"]
    assert all(hit["url"].startswith("http://localhost/api/v1/needs/") for hit in body["items"])
    assert api.get(f"{API}/search?kind=planet").status_code == 400
    vendors = api.get(f"{API}/search?q=smart+meters").get_json()["items"]
    assert [hit["ref"] for hit in vendors] == [market.vendor.ref]


# --- caching and errors ---------------------------------------------------------------------


def test_every_answer_has_an_etag_and_if_none_match_gives_304(
    api: ApiClient, market: Market
) -> None:
    first = api.get(f"{API}/needs")
    etag = first.headers["ETag"]
    again = api.get(f"{API}/needs", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    make_need(market.hue, "A new need changes the list")
    changed = api.get(f"{API}/needs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "no-cache" in changed.headers["Cache-Control"]
    assert "Authorization" in changed.headers.get("Vary", "")


def test_unknown_paths_other_methods_and_nul_bytes_are_problems_not_pages(
    client: FlaskClient, market: Market
) -> None:
    for method, path, status in (
        ("GET", f"{API}/nothing-here", 404),
        ("GET", "/api/v2/needs", 404),
        ("POST", f"{API}/needs", 405),
        ("DELETE", f"{API}/needs", 405),
        ("GET", f"{API}/needs?q=a%00b", 400),
        ("GET", f"{API}/needs/a%00b", 400),
    ):
        response = client.open(path, method=method)
        assert response.status_code == status, (method, path)
        assert response.mimetype == "application/problem+json", (method, path)
        assert response.get_json()["status"] == status
        assert "<html" not in response.text.lower()


def test_the_document_is_valid_openapi_and_covers_every_api_route(
    app: Flask, api: ApiClient
) -> None:
    from openapi_spec_validator import validate

    validate(api.document)
    assert api.document["openapi"].startswith("3.1")
    routes = {
        rule.rule[len(API) :] or "/"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(f"{API}/")
    }
    documented = {path.replace("{ref}", "<ref>") for path in api.document["paths"]}
    assert routes == documented
