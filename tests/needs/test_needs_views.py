"""Needs: the public list and page, and buyers posting and managing their own."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import (
    count_rows,
    log_in,
    make_member,
    make_need,
    make_org,
    make_user,
)

from portal.accounts.models import Role
from portal.db import utc_today
from portal.extensions import db
from portal.needs.models import Need, NeedStatus
from portal.organizations.models import OrganizationKind

BUYER = OrganizationKind.BUYER
VENDOR = OrganizationKind.VENDOR
PAST = dt.date(2000, 1, 1)


def _reload(need: Need) -> Need:
    db.session.expire_all()
    return db.session.get(Need, need.id)  # type: ignore[return-value]


def _need_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Smart street lighting",
        "description": "Replace 20,000 sodium lamps with connected LEDs.",
        "sectors": ["energy"],
        "budget_min": "100000",
        "budget_max": "2500000",
        "closes_on": (utc_today() + dt.timedelta(days=30)).isoformat(),
    }
    data.update(overrides)
    return data


# --- the public list -------------------------------------------------------------------


def test_directory_lists_open_needs_of_verified_buyers_newest_first(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Hue City")
    pending_buyer = make_org(BUYER, "Unverified City", verified=False)
    make_need(buyer, "Older open need")
    make_need(buyer, "Newer open need", budget_min=50_000, budget_max=200_000)
    make_need(buyer, "Closed need", status=NeedStatus.CLOSED)
    make_need(buyer, "Awarded need", status=NeedStatus.AWARDED)
    make_need(buyer, "Expired need", closes_on=PAST)
    make_need(buyer, "Closes today", closes_on=utc_today())
    make_need(pending_buyer, "Need of unverified buyer")

    html = client.get("/needs").get_data(as_text=True)

    assert html.index("Closes today") < html.index("Newer open need") < html.index("Older open")
    assert "US$50,000 to US$200,000" in html
    for hidden in ("Closed need", "Awarded need", "Expired need", "Need of unverified buyer"):
        assert hidden not in html


def test_directory_filters_by_sector_country_and_title(client: FlaskClient) -> None:
    vietnam = make_org(BUYER, "Da Nang", country="VN")
    thailand = make_org(BUYER, "Phuket", country="TH")
    make_need(vietnam, "Water meters VN", sectors=["water"])
    make_need(thailand, "Water meters TH", sectors=["water"])
    make_need(thailand, "Bus tracking TH", sectors=["mobility"])

    water_th = client.get("/needs?sector=water&country=TH").get_data(as_text=True)
    by_title = client.get("/needs?q=bus").get_data(as_text=True)

    assert "Water meters TH" in water_th
    assert "Water meters VN" not in water_th and "Bus tracking TH" not in water_th
    assert "Bus tracking TH" in by_title and "Water meters" not in by_title


@pytest.mark.parametrize("query", ["sector=nope", "country=US", "page=abc", "page=99999"])
def test_directory_bad_query_strings_never_fail(client: FlaskClient, query: str) -> None:
    make_need(make_org(BUYER, "Buyer"), "Some need")
    response = client.get(f"/needs?{query}")
    assert response.status_code == 200


def test_directory_pagination(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PORTAL_PAGE_SIZE", 2)
    buyer = make_org(BUYER, "Busy City")
    for number in range(3):
        make_need(buyer, f"Need number {number}")

    second = client.get("/needs?page=2").get_data(as_text=True)

    assert "Page 2 of 2" in second and "3 in all" in second
    assert "Need number 0" in second and "Need number 2" not in second


def test_need_page_shows_the_need(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Iloilo City", country="PH")
    need = make_need(
        buyer,
        "Flood early warning",
        description="Sensors along the Iloilo river.",
        sectors=["disaster-resilience"],
        budget_min=None,
        budget_max=300_000,
        closes_on=dt.date(2999, 12, 31),
    )

    html = client.get(f"/needs/{need.ref}").get_data(as_text=True)

    for shown in (
        "Flood early warning",
        "Iloilo City",
        f"/buyers/{buyer.ref}",
        "Philippines",
        "Sensors along the Iloilo river.",
        "Disaster resilience",
        "up to US$300,000",
        "2999-12-31",
        "open",
    ):
        assert shown in html
    assert "Manage this need" not in html


@pytest.mark.parametrize(
    ("status", "closes_on", "verified", "badge"),
    [
        (NeedStatus.CLOSED, None, True, "closed"),
        (NeedStatus.AWARDED, None, True, "awarded"),
        (NeedStatus.OPEN, PAST, True, "expired"),
        (NeedStatus.OPEN, None, False, "open"),
    ],
)
def test_not_public_needs_are_404_to_others_but_visible_to_members_and_staff(
    client: FlaskClient, status: NeedStatus, closes_on: dt.date | None, verified: bool, badge: str
) -> None:
    buyer = make_org(BUYER, "Owner City", verified=verified)
    need = make_need(buyer, "Hidden need", status=status, closes_on=closes_on)
    url = f"/needs/{need.ref}"

    assert client.get(url).status_code == 404
    log_in(client, make_member(make_org(VENDOR, "Curious Vendor")))
    assert client.get(url).status_code == 404
    log_in(client, make_member(buyer))
    own = client.get(url)
    log_in(client, make_user(Role.STAFF))
    staff = client.get(url)

    for response in (own, staff):
        assert response.status_code == 200
        assert f"status-{badge}" in response.get_data(as_text=True)


# --- posting and editing ---------------------------------------------------------------


def test_buyer_member_posts_a_need(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Makassar")
    log_in(client, make_member(buyer))

    assert client.get("/needs/new").status_code == 200
    response = client.post("/needs/new", data=_need_form())

    need = db.session.scalars(db.select(Need)).one()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/needs/{need.ref}")
    assert need.ref.startswith("smart-street-lighting-")
    assert (need.buyer_id, need.status) == (buyer.id, NeedStatus.OPEN)
    assert (need.budget_min, need.budget_max, need.sectors) == (100_000, 2_500_000, ["energy"])
    page = client.get(f"/needs/{need.ref}").get_data(as_text=True)
    assert "US$100,000 to US$2,500,000" in page and "Manage this need" in page


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"title": ""}, "This field is required."),
        ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
        ({"description": "x" * 10_001}, "Field cannot be longer than 10000 characters."),
        ({"budget_min": "-5"}, "Enter a whole number of dollars"),
        ({"budget_min": "12.5"}, "Not a valid integer value."),
        ({"budget_min": "500", "budget_max": "100"}, "The maximum must not be below the minimum."),
        ({"budget_max": ""}, "Give both a minimum and a maximum budget, or neither."),
        ({"budget_min": ""}, "Give both a minimum and a maximum budget, or neither."),
        ({"budget_max": "9" * 25}, "Enter a whole number of dollars"),
        ({"closes_on": "2000-01-01"}, "a new need cannot close in the past"),
        ({"closes_on": "not a date"}, "Not a valid date value."),
        ({"sectors": ["nope"]}, "is not a valid choice"),
    ],
)
def test_need_validation_errors_beside_fields_and_nothing_saved(
    client: FlaskClient, overrides: dict[str, object], error: str
) -> None:
    log_in(client, make_member(make_org(BUYER, "Careful City")))

    response = client.post("/needs/new", data=_need_form(**overrides))

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert error in html
    assert '<ul class="errors"' in html
    assert count_rows(Need) == 0


def test_staff_post_for_a_named_buyer(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Staff Helped City")
    log_in(client, make_user(Role.STAFF))

    assert client.get("/needs/new").status_code == 404  # no buyer named
    client.post(f"/needs/new?buyer={buyer.ref}", data=_need_form(title="Posted by staff"))

    assert db.session.scalars(db.select(Need)).one().buyer_id == buyer.id


def test_owner_edits_a_need(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Editing City")
    need = make_need(buyer, "Draft title", closes_on=PAST, status=NeedStatus.CLOSED)
    log_in(client, make_member(buyer))

    kept_past_date = client.post(
        f"/needs/{need.ref}/edit",
        data=_need_form(title="Better title", closes_on="2000-01-01", version=1),
    )
    new_past_date = client.post(  # on the form the first save came back to: version 2
        f"/needs/{need.ref}/edit",
        data=_need_form(title="Worse title", closes_on="2001-01-01", version=2),
    )

    assert kept_past_date.status_code == 302
    assert new_past_date.status_code == 400
    assert "the closing date cannot be in the past" in new_past_date.get_data(as_text=True)
    need = _reload(need)
    assert need.title == "Better title" and need.closes_on == PAST
    assert need.status == NeedStatus.CLOSED  # only the buttons change the status


# --- status buttons ---------------------------------------------------------------------


def test_close_award_reopen(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Deciding City")
    need = make_need(buyer, "A need")
    log_in(client, make_member(buyer))

    client.post(f"/needs/{need.ref}/close")
    assert _reload(need).status == NeedStatus.CLOSED
    assert client.get("/needs").get_data(as_text=True).count("A need") == 0
    client.post(f"/needs/{need.ref}/reopen")
    assert _reload(need).status == NeedStatus.OPEN
    client.post(f"/needs/{need.ref}/award")
    assert _reload(need).status == NeedStatus.AWARDED
    again = client.post(f"/needs/{need.ref}/award", follow_redirects=True)
    assert "Nothing changed: this need is already awarded." in again.get_data(as_text=True)


def test_reopen_refused_past_the_closing_date(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Late City")
    need = make_need(buyer, "Too late", closes_on=PAST, status=NeedStatus.CLOSED)
    log_in(client, make_member(buyer))

    response = client.post(f"/needs/{need.ref}/reopen", follow_redirects=True)

    assert "its closing date has passed" in response.get_data(as_text=True)
    assert _reload(need).status == NeedStatus.CLOSED


def test_vendors_and_other_buyers_get_403_and_nothing_changes(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Owner City")
    need = make_need(buyer, "Original title")
    outsiders = [
        make_member(make_org(VENDOR, "A Vendor")),
        make_member(make_org(BUYER, "Another City")),
    ]

    for outsider in outsiders:
        log_in(client, outsider)
        codes = [
            client.get(f"/needs/{need.ref}/edit").status_code,
            client.post(f"/needs/{need.ref}/edit", data=_need_form(title="Owned")).status_code,
            client.post(f"/needs/{need.ref}/close").status_code,
            client.post(f"/needs/{need.ref}/award").status_code,
            client.post(f"/needs/{need.ref}/reopen").status_code,
        ]
        assert codes == [403] * 5
    log_in(client, outsiders[0])
    assert client.post("/needs/new", data=_need_form()).status_code == 403

    need = _reload(need)
    assert (need.title, need.status) == ("Original title", NeedStatus.OPEN)
    assert count_rows(Need) == 1


def test_anonymous_users_are_sent_to_login(client: FlaskClient) -> None:
    need = make_need(make_org(BUYER, "City"), "A need")
    for url in ("/needs/new", f"/needs/{need.ref}/edit"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"/needs/{need.ref}/close").status_code == 302
    assert _reload(need).status == NeedStatus.OPEN


def test_status_buttons_need_csrf(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = make_org(BUYER, "Guarded City")
    need = make_need(buyer, "Guarded need")
    log_in(client, make_member(buyer))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)

    response = client.post(f"/needs/{need.ref}/close")

    assert response.status_code == 400
    assert _reload(need).status == NeedStatus.OPEN


def test_an_anonymous_visitor_on_a_need_is_invited_to_join_or_log_in(
    client: FlaskClient,
) -> None:
    """Regression: an anonymous visitor on a need's page was offered nothing to do."""
    need = make_need(make_org(OrganizationKind.BUYER))

    page = client.get(f"/needs/{need.ref}").text

    assert "Can your company solve this?" in page
    assert 'href="/register"' in page
    assert f'href="/login?next=/needs/{need.ref}"' in page or (
        f'href="/login?next=%2Fneeds%2F{need.ref}"' in page
    )
