"""A member's own data through a personal token: leads, introductions, event agenda."""

from __future__ import annotations

from api.api_factories import API, ApiClient, make_agenda, make_token
from flask import Flask
from introductions.intro_factories import make_pair, walk_to
from matching.feedback_factories import build_market

from portal.introductions.models import IntroState
from portal.matching.panels import need_leads, needs_for_vendor
from portal.needs.services import open_needs_of


def test_a_vendor_gets_the_needs_its_leads_page_shows(app: Flask, api: ApiClient) -> None:
    market = build_market()
    secret = make_token(market.vendor_member)
    panel = needs_for_vendor(market.lumenark)
    shown = [row.lead.need.ref for row in panel.shown]
    listed = shown + [row.lead.need.ref for row in panel.more]  # the page, "show more" too
    assert market.lamps.ref in listed
    items = api.pages(f"{API}/me/leads?limit=1", secret)
    assert [item["need"]["ref"] for item in items] == shown
    everything = api.pages(f"{API}/me/leads?all=true&limit=1", secret)
    assert [item["need"]["ref"] for item in everything] == listed
    assert [item["shown"] for item in everything] == [ref in shown for ref in listed]
    assert {item["direction"] for item in everything} == {"need-for-vendor"}
    assert {item["vendor"]["ref"] for item in everything} == {market.lumenark.ref}
    assert all(item["reasons"] for item in everything)
    # closed, awarded and expired needs are never leads
    hidden = {market.closed.ref, market.awarded.ref, market.expired.ref}
    assert not hidden & set(listed)
    assert api.get(f"{API}/me/leads?all=yes", secret).status_code == 400


def test_a_buyer_gets_the_vendors_its_need_pages_show(app: Flask, api: ApiClient) -> None:
    market = build_market()
    member = market.buyer_member
    secret = make_token(member)
    shown, listed = [], []
    for need in open_needs_of(market.danang):
        panel = need_leads(need, member)
        assert panel is not None
        shown += [(need.ref, row.lead.vendor.ref) for row in panel.shown]
        listed += [(need.ref, row.lead.vendor.ref) for row in [*panel.shown, *panel.more]]
    assert (market.lamps.ref, market.lumenark.ref) in listed

    def pairs(query: str) -> list[tuple[str, str]]:
        items = api.pages(f"{API}/me/leads?{query}", secret)
        assert {item["direction"] for item in items} <= {"vendor-for-need"}
        return sorted((item["need"]["ref"], item["vendor"]["ref"]) for item in items)

    assert pairs("limit=2") == sorted(shown)
    assert pairs("all=true&limit=2") == sorted(listed)
    assert market.pending.ref not in {vendor for _, vendor in listed}


def test_introductions_are_those_the_member_may_see(app: Flask, api: ApiClient) -> None:
    pair = make_pair()
    introduced = walk_to(pair, IntroState.INTRODUCED)
    vendor_secret = make_token(pair.vendor_member)
    buyer_secret = make_token(pair.buyer_member)
    outsider_secret = make_token(pair.outsider)
    # the buyer asks for another; until staff approve it, the vendor does not see it
    asked = walk_to(pair, IntroState.REQUESTED, origin="buyer")

    def ids(secret: str) -> list[int]:
        return [item["id"] for item in api.pages(f"{API}/me/introductions?limit=1", secret)]

    assert ids(vendor_secret) == [introduced.id]
    assert ids(buyer_secret) == sorted([introduced.id, asked.id])
    assert ids(outsider_secret) == []
    response = api.get(f"{API}/me/introductions", vendor_secret)
    [item] = response.get_json()["items"]
    assert item["state"] == "introduced" and item["need"]["ref"] == pair.need.ref
    assert item["vendor"]["ref"] == pair.vendor.ref and item["buyer"]["ref"] == pair.buyer.ref
    # introduced, so the pages show contacts; the API never does
    for contact in (pair.vendor_contact, pair.buyer_contact):
        assert contact.email not in response.text and contact.phone not in response.text


def test_the_agenda_holds_published_meetings_only(app: Flask, api: ApiClient) -> None:
    pair = make_pair()
    agenda = make_agenda(pair.vendor, pair.buyer)
    vendor_items = api.pages(f"{API}/me/agenda", make_token(pair.vendor_member))
    [meeting] = vendor_items  # the draft meeting with the third is not there
    assert meeting["with"]["ref"] == pair.buyer.ref
    assert meeting["event"]["ref"] == agenda.event.ref
    assert meeting["starts_at"] == "2099-03-09T02:00:00Z"
    assert meeting["local_starts_at"] == "2099-03-09T09:00:00+07:00"
    assert meeting["time_zone"] == "Asia/Bangkok"
    assert meeting["place"] == "Table 1" and meeting["table_number"] == 1
    [theirs] = api.pages(f"{API}/me/agenda", make_token(pair.buyer_member))
    assert theirs["uid"] == meeting["uid"] and theirs["with"]["ref"] == pair.vendor.ref
    assert api.pages(f"{API}/me/agenda", make_token(pair.outsider)) == []
