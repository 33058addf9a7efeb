"""A need's notice type and funding: the rules in the services, the form with its errors
beside the fields, the need page and the directory's filters."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from flask import Flask
from flask.testing import FlaskClient
from organizations.directory_factories import count_rows, log_in, make_member, make_need, make_org

from portal.db import utc_today
from portal.extensions import db
from portal.needs.models import Need
from portal.needs.services import NeedError, create_need, funding_label, update_need
from portal.organizations.models import OrganizationKind

BUYER = OrganizationKind.BUYER


def _form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Flood pumps for the canal district",
        "description": "Pumps that keep working when the canals rise.",
        "sectors": ["water"],
        "closes_on": (utc_today() + dt.timedelta(days=30)).isoformat(),
        "notice": "rfp",
        "funding_source": "adb",
        "funding_stage": "procurement",
    }
    data.update(overrides)
    return data


# --- services ----------------------------------------------------------------------------


def test_a_new_need_is_a_concept_without_known_funding(app: Flask) -> None:
    need = create_need(make_org(BUYER, "Default City"), title="Shaping a problem")
    assert (need.notice, need.funding_source, need.funding_stage) == ("concept", None, None)
    assert funding_label(need) == "not stated"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"notice": "tender"}, "notice", "unknown notice type"),
        ({"funding_source": "imf", "funding_stage": "funded"}, "funding_source", "unknown"),
        ({"funding_source": "adb", "funding_stage": "signed"}, "funding_stage", "unknown"),
        ({"funding_source": "adb"}, "funding_stage", "give the funding stage too"),
        ({"funding_stage": "funded"}, "funding_source", "give the funding source too"),
        ({"funding_source": "", "funding_stage": "funded"}, "funding_source", "source too"),
    ],
)
def test_notice_and_funding_rules(
    app: Flask, fields: dict[str, str], field: str, message: str
) -> None:
    buyer = make_org(BUYER, "Rule City")
    with pytest.raises(NeedError, match=message) as error:
        create_need(buyer, title="Checked", **fields)  # type: ignore[arg-type]
    assert error.value.field == field
    need = make_need(buyer, "Edited")
    with pytest.raises(NeedError, match=message):
        update_need(need, title="Edited", **fields)  # type: ignore[arg-type]


def test_editing_keeps_the_notice_unless_told_and_sets_funding(app: Flask) -> None:
    need = create_need(
        make_org(BUYER, "Edit City"),
        title="Tendered",
        notice="rfp",
        funding_source="ustda",
        funding_stage="funded",
    )
    assert funding_label(need) == "USTDA grant: funded"
    update_need(need, title="Tendered", funding_source="ppp", funding_stage="feasibility")
    assert (need.notice, need.funding_source, need.funding_stage) == ("rfp", "ppp", "feasibility")
    update_need(need, title="Tendered", notice="rfi")
    assert (need.notice, need.funding_source, need.funding_stage) == ("rfi", None, None)


# --- the form and the need page ----------------------------------------------------------


def test_buyer_posts_a_tender_with_its_funding_and_the_page_shows_them(
    client: FlaskClient,
) -> None:
    buyer = make_org(BUYER, "Can Tho City")
    log_in(client, make_member(buyer))
    form_page = client.get("/needs/new").get_data(as_text=True)
    assert 'name="notice"' in form_page and 'name="funding_source"' in form_page

    response = client.post("/needs/new", data=_form())
    assert response.status_code == 302
    need = db.session.query(Need).one()
    assert (need.notice, need.funding_source, need.funding_stage) == ("rfp", "adb", "procurement")

    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Request for proposals (tender)" in page
    assert "Asian Development Bank: in procurement" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"funding_stage": ""}, "funding_stage", "Choose the funding stage too"),
        ({"funding_source": ""}, "funding_source", "Choose the funding source too"),
    ],
)
def test_half_a_funding_is_refused_beside_the_empty_field(
    client: FlaskClient, overrides: dict[str, str], field: str, message: str
) -> None:
    buyer = make_org(BUYER, "Half City")
    log_in(client, make_member(buyer))
    response = client.post("/needs/new", data=_form(**overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error_list = page.split(f'id="{field}-error"', 1)[1].split("</ul>", 1)[0]
    assert message in error_list
    assert count_rows(Need) == 0


def test_an_unknown_notice_type_is_refused_by_the_form(client: FlaskClient) -> None:
    log_in(client, make_member(make_org(BUYER, "Odd City")))
    response = client.post("/needs/new", data=_form(notice="tender"))
    assert response.status_code == 400
    assert 'id="notice-error"' in response.get_data(as_text=True)
    assert count_rows(Need) == 0


def test_editing_changes_notice_and_clears_funding(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Edit Form City")
    need = make_need(buyer, "Sounding", notice="sources-sought")
    log_in(client, make_member(buyer))
    edit_page = client.get(f"/needs/{need.ref}/edit").get_data(as_text=True)
    assert '<option selected value="sources-sought">' in edit_page
    response = client.post(
        f"/needs/{need.ref}/edit",
        data=_form(title="Sounding", notice="rfi", funding_source="", funding_stage="", version=1),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert (need.notice, need.funding_source, need.funding_stage) == ("rfi", None, None)
    assert "Funding</dt><dd>not stated" in client.get(f"/needs/{need.ref}").get_data(as_text=True)


# --- the directory's filters -------------------------------------------------------------


def test_directory_filters_by_notice_type_and_funding(client: FlaskClient) -> None:
    buyer = make_org(BUYER, "Filter City")
    make_need(buyer, "Concept need")
    for title, notice, source, stage in (
        ("Tender by the bank", "rfp", "adb", "funded"),
        ("Tender on own budget", "rfp", "own-budget", "idea"),
        ("Information wanted", "rfi", "adb", "idea"),
    ):
        make_need(buyer, title, notice=notice, funding_source=source, funding_stage=stage)

    def titles(query: str) -> set[str]:
        page = client.get(f"/needs?{query}").get_data(as_text=True)
        return {
            title
            for title in (
                "Concept need",
                "Tender by the bank",
                "Tender on own budget",
                "Information wanted",
            )
            if title in page
        }

    assert titles("notice=rfp") == {"Tender by the bank", "Tender on own budget"}
    assert titles("funding_source=adb") == {"Tender by the bank", "Information wanted"}
    assert titles("funding_stage=idea") == {"Tender on own budget", "Information wanted"}
    assert titles("notice=rfp&funding_source=adb&funding_stage=funded") == {"Tender by the bank"}
    assert titles("notice=concept") == {"Concept need"}

    page = client.get("/needs?notice=rfp").get_data(as_text=True)
    assert '<option value="rfp" selected>' in page
    assert "Clear filters" in page
    # An unknown code is dropped with a warning, never an error page.
    response = client.get("/needs?notice=tender&funding_stage=%3Cb%3E")
    assert response.status_code == 200
    warned = html.unescape(response.get_data(as_text=True))
    assert "There is no notice type “tender”; showing all." in warned
    assert "<b>" not in response.get_data(as_text=True).split("City needs", 1)[1]
    assert titles("notice=tender") == titles("")
