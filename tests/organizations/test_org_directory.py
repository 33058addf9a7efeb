"""The public vendor and buyer directory: listing, filters, pagination, privacy."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import (
    log_in,
    make_contact,
    make_member,
    make_need,
    make_org,
    make_user,
)

from portal.accounts.models import Role
from portal.needs.models import NeedStatus
from portal.organizations.models import OrganizationKind, VerificationStatus

VENDOR = OrganizationKind.VENDOR
BUYER = OrganizationKind.BUYER


def test_vendors_lists_only_verified_ones_by_name(client: FlaskClient) -> None:
    make_org(VENDOR, "Zeta Mobility")
    make_org(VENDOR, "alpha Grid")
    make_org(VENDOR, "Pending Pumps", verified=False)
    rejected = make_org(VENDOR, "Rejected Robotics", verified=False)
    rejected.status = VerificationStatus.REJECTED
    make_org(BUYER, "Da Nang Water")

    html = client.get("/vendors").get_data(as_text=True)

    assert html.index("alpha Grid") < html.index("Zeta Mobility")
    assert "Pending Pumps" not in html
    assert "Rejected Robotics" not in html
    assert "Da Nang Water" not in html


def test_vendors_filter_by_sector_market_and_name(client: FlaskClient) -> None:
    make_org(VENDOR, "Water Works", sectors=["water"], markets=["VN", "TH"])
    make_org(VENDOR, "Grid Co", sectors=["energy"], markets=["VN"])
    make_org(VENDOR, "Water Thai", sectors=["water"], markets=["TH"])

    by_sector = client.get("/vendors?sector=water").get_data(as_text=True)
    by_market = client.get("/vendors?sector=water&market=VN").get_data(as_text=True)
    by_name = client.get("/vendors?q=GRID").get_data(as_text=True)

    assert "Water Works" in by_sector and "Water Thai" in by_sector
    assert "Grid Co" not in by_sector
    assert "Water Works" in by_market
    assert "Water Thai" not in by_market and "Grid Co" not in by_market
    assert "Grid Co" in by_name and "Water Works" not in by_name


def test_buyers_filter_by_country(client: FlaskClient) -> None:
    make_org(BUYER, "Hanoi Transport", country="VN", sectors=["mobility"])
    make_org(BUYER, "Bangkok Metro", country="TH", sectors=["mobility"])

    html = client.get("/buyers?country=th&sector=mobility").get_data(as_text=True)

    assert "Bangkok Metro" in html
    assert "Hanoi Transport" not in html


@pytest.mark.parametrize(
    "query",
    ["sector=teleportation", "market=ZZ", "market=US", "sector=%27%3B--", "q=%25_%25"],
)
def test_unknown_filter_codes_are_ignored_with_a_message(client: FlaskClient, query: str) -> None:
    make_org(VENDOR, "Listed Anyway")

    response = client.get(f"/vendors?{query}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if query.startswith("q="):
        assert "Listed Anyway" not in html  # a literal "%_%" matches no name
    else:
        assert "Listed Anyway" in html
        assert "showing all" in html


@pytest.mark.parametrize("page", ["abc", "0", "-3", "99999", "9" * 40, "²"])
def test_bad_page_numbers_never_fail(app: Flask, client: FlaskClient, page: str) -> None:
    make_org(BUYER, "Only Buyer")

    response = client.get(f"/buyers?page={page}")

    assert response.status_code == 200


def test_pagination_splits_the_list(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 2)
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        make_org(VENDOR, f"{name} Vendor", sectors=["water"])

    first = client.get("/vendors?sector=water").get_data(as_text=True)
    third = client.get("/vendors?sector=water&page=3").get_data(as_text=True)
    beyond = client.get("/vendors?sector=water&page=4").get_data(as_text=True)

    assert "Alpha Vendor" in first and "Bravo Vendor" in first
    assert "Charlie Vendor" not in first
    assert "Page 1 of 3" in first and "5 in all" in first
    assert "sector=water" in first and "page=2" in first  # the next link keeps the filter
    assert "Echo Vendor" in third and "Alpha Vendor" not in third
    assert "There is no page 4" in beyond


@pytest.mark.parametrize("special", ["_method=PUT", "_scheme=ftp", "_external=1", "_anchor=x"])
def test_page_links_ignore_url_fors_own_keywords_in_the_query(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, special: str
) -> None:
    """A query string naming one of url_for's keywords made the page links fail to build
    (a 500); repeated filters keep every value in the links."""
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 2)
    for name in ("Alpha", "Bravo", "Charlie"):
        make_org(VENDOR, f"{name} Vendor", sectors=["water", "energy"])

    response = client.get(f"/vendors?sector=water&sector=energy&{special}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Page 1 of 2" in page
    assert "sector=water&amp;sector=energy&amp;page=2" in page
    assert special.partition("=")[0] not in page.partition("Page 1 of 2")[2]


def test_vendor_page_shows_profile_without_contact_details(client: FlaskClient) -> None:
    vendor = make_org(
        VENDOR,
        "Acme Smart Lighting",
        city="Austin",
        website="https://acme.example",
        summary="LED street lights with remote control.",
        sectors=["energy"],
        markets=["VN", "PH"],
    )
    make_contact(vendor, name="Secret Person", email="secret@acme.example", phone="+1 512 555 0100")
    member = make_member(vendor)

    html = client.get(f"/vendors/{vendor.ref}").get_data(as_text=True)

    for shown in (
        "Acme Smart Lighting",
        "Austin",
        "https://acme.example",
        "LED street lights",
        "Viet Nam",
        "Philippines",
        "Energy",
    ):
        assert shown in html
    for hidden in ("Secret Person", "secret@acme.example", "+1 512 555 0100", member.email):
        assert hidden not in html


def test_no_contact_details_on_any_public_page(client: FlaskClient) -> None:
    vendor = make_org(VENDOR, "Vendor With Contacts")
    buyer = make_org(BUYER, "Buyer With Contacts")
    make_contact(vendor, email="v.contact@private.example", phone="+1 000 111 2222")
    make_contact(buyer, email="b.contact@private.example", phone="+84 000 111 2222")
    need = make_need(buyer, "Smart parking")

    pages = [
        "/vendors",
        "/buyers",
        "/needs",
        f"/vendors/{vendor.ref}",
        f"/buyers/{buyer.ref}",
        f"/needs/{need.ref}",
    ]
    for url in pages:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        for secret in (
            "v.contact@private.example",
            "b.contact@private.example",
            "+1 000 111 2222",
            "+84 000 111 2222",
        ):
            assert secret not in html, (url, secret)


def test_buyer_page_lists_only_open_needs(client: FlaskClient) -> None:
    import datetime as dt

    buyer = make_org(BUYER, "Cebu City", country="PH", city="Cebu", sectors=["water"])
    make_need(buyer, "Open need for pumps")
    make_need(buyer, "Closed need for buses", status=NeedStatus.CLOSED)
    make_need(buyer, "Expired need for lights", closes_on=dt.date(2000, 1, 1))

    html = client.get(f"/buyers/{buyer.ref}").get_data(as_text=True)

    assert "Cebu City" in html and "Philippines" in html and "Cebu" in html
    assert "Open need for pumps" in html
    assert "Closed need for buses" not in html
    assert "Expired need for lights" not in html


def test_unverified_profiles_are_404_to_the_public_and_other_members(
    client: FlaskClient,
) -> None:
    pending = make_org(VENDOR, "Pending Vendor", verified=False)
    outsider = make_member(make_org(VENDOR, "Another Vendor"))

    assert client.get(f"/vendors/{pending.ref}").status_code == 404
    assert client.get(f"/buyers/{pending.ref}").status_code == 404  # wrong kind
    assert client.get("/vendors/no-such-ref").status_code == 404
    log_in(client, outsider)
    assert client.get(f"/vendors/{pending.ref}").status_code == 404


def test_members_and_staff_see_an_unverified_profile_with_its_status(
    client: FlaskClient,
) -> None:
    pending = make_org(BUYER, "Pending City", verified=False)
    make_contact(pending, email="pending.contact@private.example")

    log_in(client, make_member(pending))
    own = client.get(f"/buyers/{pending.ref}").get_data(as_text=True)
    log_in(client, make_user(Role.STAFF))
    staff = client.get(f"/buyers/{pending.ref}").get_data(as_text=True)

    for html in (own, staff):
        assert "Pending verification" in html
        assert "pending.contact@private.example" in html
    assert "Verification history" in staff
