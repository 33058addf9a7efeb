"""Leads on the pages: the need page's panel, a vendor's "needs for you", staff panels, and
dismissing and restoring leads through the forms."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from matching.feedback_factories import Market, build_market, log_in
from support import count_rows

from portal.extensions import db
from portal.matching.models import LeadDismissal

PANEL = "Vendors who could solve this"
STAFF_PANEL = "Needs this vendor could win"


@pytest.fixture
def market(app: Flask) -> Market:
    return build_market()


def _leads_part(html: str) -> str:
    """The need panel's list of leads, without the list of dismissed vendors after it."""
    start = html.index(PANEL)
    end = html.find("Vendors you dismissed", start)
    return html[start : end if end != -1 else html.index("</section>", start)]


def _dismiss_url(market: Market, need_ref: str | None = None, vendor_ref: str | None = None):
    need_ref = need_ref or market.lamps.ref
    vendor_ref = vendor_ref or market.lumenark.ref
    return f"/needs/{need_ref}/leads/{vendor_ref}/dismiss"


# --- who sees the panel on a need's page -----------------------------------------------------


def test_anonymous_visitors_see_no_leads(client: FlaskClient, market: Market) -> None:
    response = client.get(f"/needs/{market.lamps.ref}")
    assert response.status_code == 200
    assert PANEL not in response.text and "Lumenark" not in response.text


@pytest.mark.parametrize("who", ["cebu_member", "vendor_member", "aquasonic_member"])
def test_other_organizations_see_no_leads(client: FlaskClient, market: Market, who: str) -> None:
    log_in(client, getattr(market, who))
    response = client.get(f"/needs/{market.lamps.ref}")
    assert response.status_code == 200
    assert PANEL not in response.text


def test_buyer_members_see_leads_with_reasons_and_a_dismiss_form(
    client: FlaskClient, market: Market, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(client, market.buyer_member)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # to see the token
    response = client.get(f"/needs/{market.lamps.ref}")
    assert response.status_code == 200
    leads = _leads_part(response.text)
    assert f'href="/vendors/{market.lumenark.ref}"' in leads
    assert "Lumenark Lighting" in leads and "Brightpath Streetlights" in leads
    assert "LED streetlight retrofit" in leads  # a reason
    assert "Unverified Lamps" not in response.text
    assert f'action="{_dismiss_url(market)}"' in leads
    assert 'name="csrf_token"' in leads and 'value="not_our_market"' in leads
    assert "<script" not in response.text and "style=" not in response.text


def test_staff_see_leads_without_a_dismiss_form(client: FlaskClient, market: Market) -> None:
    log_in(client, market.staff)
    response = client.get(f"/needs/{market.lamps.ref}")
    assert PANEL in response.text and "Lumenark Lighting" in _leads_part(response.text)
    assert "/dismiss" not in response.text


def test_needs_that_are_not_open_have_no_leads(client: FlaskClient, market: Market) -> None:
    log_in(client, market.buyer_member)
    for need in (market.closed, market.awarded, market.expired):
        response = client.get(f"/needs/{need.ref}")
        assert response.status_code == 200
        assert PANEL not in response.text


# --- dismissing and restoring on the need page ------------------------------------------------


def test_a_buyer_dismisses_a_vendor_for_itself_only(client: FlaskClient, market: Market) -> None:
    log_in(client, market.buyer_member)
    response = client.post(
        _dismiss_url(market), data={"reason": "not_relevant", "note": "We need LEDs"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/needs/{market.lamps.ref}#leads")
    row = db.session.scalar(db.select(LeadDismissal))
    assert row is not None
    assert (row.organization_id, row.reason, row.note) == (
        market.danang.id,
        "not_relevant",
        "We need LEDs",
    )

    page = client.get(f"/needs/{market.lamps.ref}").text
    assert "Lumenark Lighting" not in _leads_part(page)
    assert "Vendors you dismissed" in page and "Not relevant" in page
    assert f"/needs/{market.lamps.ref}/leads/{market.lumenark.ref}/undo" in page
    client.post("/logout")

    log_in(client, market.vendor_member)  # the vendor still sees the need
    assert market.lamps.title in client.get("/leads").text
    client.post("/logout")

    log_in(client, market.staff)  # staff see the lead, with the reason
    page = client.get(f"/needs/{market.lamps.ref}").text
    leads = _leads_part(page)
    assert "Lumenark Lighting" in leads and "Not relevant" in leads and "We need LEDs" in leads
    assert "Da Nang Lighting Office" in leads  # who dismissed it


def test_undo_brings_the_lead_back(client: FlaskClient, market: Market) -> None:
    log_in(client, market.buyer_member)
    client.post(_dismiss_url(market), data={"reason": "already_in_contact"})
    assert count_rows(LeadDismissal) == 1
    response = client.post(f"/needs/{market.lamps.ref}/leads/{market.lumenark.ref}/undo")
    assert response.status_code == 302
    assert count_rows(LeadDismissal) == 0
    page = client.get(f"/needs/{market.lamps.ref}").text
    assert "Lumenark Lighting" in _leads_part(page)
    assert "Vendors you dismissed" not in page
    again = client.post(f"/needs/{market.lamps.ref}/leads/{market.lumenark.ref}/undo")
    assert again.status_code == 302  # nothing to undo: a message, not an error


def test_dismissing_again_changes_the_reason(client: FlaskClient, market: Market) -> None:
    log_in(client, market.buyer_member)
    client.post(_dismiss_url(market), data={"reason": "not_relevant"})
    client.post(_dismiss_url(market), data={"reason": "too_small"})
    assert count_rows(LeadDismissal) == 1
    row = db.session.scalar(db.select(LeadDismissal))
    assert row is not None and row.reason == "too_small"


@pytest.mark.parametrize("who", ["cebu_member", "aquasonic_member", "staff"])
def test_others_cannot_dismiss(client: FlaskClient, market: Market, who: str) -> None:
    log_in(client, getattr(market, who))
    response = client.post(_dismiss_url(market), data={"reason": "not_relevant"})
    assert response.status_code in (403, 404)
    undo = client.post(f"/needs/{market.lamps.ref}/leads/{market.lumenark.ref}/undo")
    assert undo.status_code in (403, 404)
    assert count_rows(LeadDismissal) == 0


def test_anonymous_posts_go_to_the_login_page(client: FlaskClient, market: Market) -> None:
    response = client.post(_dismiss_url(market), data={"reason": "not_relevant"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_rows(LeadDismissal) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "because"}, "Not a valid choice"),
        ({}, "Choose a reason"),
        ({"reason": "too_small", "note": "x" * 501}, "under 500 characters"),
    ],
)
def test_bad_input_shows_the_form_again(
    client: FlaskClient, market: Market, data: dict[str, str], message: str
) -> None:
    log_in(client, market.buyer_member)
    response = client.post(_dismiss_url(market), data=data)
    assert response.status_code == 400
    assert message in response.text and "Lumenark Lighting" in response.text
    assert count_rows(LeadDismissal) == 0


def test_unknown_needs_and_vendors_are_not_found(client: FlaskClient, market: Market) -> None:
    log_in(client, market.buyer_member)
    assert client.post(_dismiss_url(market, need_ref="nope"), data={}).status_code == 404
    assert client.post(_dismiss_url(market, vendor_ref="nope"), data={}).status_code == 404
    # a buyer is not a vendor
    url = _dismiss_url(market, vendor_ref=market.cebu.ref)
    assert client.post(url, data={"reason": "not_relevant"}).status_code == 404
    assert count_rows(LeadDismissal) == 0


def test_the_forms_need_their_csrf_token(
    client: FlaskClient, market: Market, monkeypatch: pytest.MonkeyPatch, app: Flask
) -> None:
    log_in(client, market.buyer_member)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(_dismiss_url(market), data={"reason": "not_relevant"})
    assert response.status_code == 400
    assert count_rows(LeadDismissal) == 0


# --- a vendor's "needs for you" ------------------------------------------------------------------


def test_needs_for_you_is_for_vendor_members(client: FlaskClient, market: Market) -> None:
    response = client.get("/leads")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for who in ("buyer_member", "staff"):
        log_in(client, getattr(market, who))
        assert client.get("/leads").status_code == 403
        assert 'href="/leads"' not in client.get("/").text
        client.post("/logout")


def test_a_vendor_sees_open_needs_only(client: FlaskClient, market: Market) -> None:
    log_in(client, market.vendor_member)
    assert 'href="/leads"' in client.get("/").text  # in the nav
    response = client.get("/leads")
    assert response.status_code == 200
    page = response.text
    assert "Needs for you" in page
    assert f'href="/needs/{market.lamps.ref}"' in page and market.cebu_lamps.title in page
    assert "Already serves Viet Nam" in page  # a reason
    for need in (market.closed, market.awarded, market.expired):
        assert need.title not in page
    assert "<script" not in page and "style=" not in page


def test_a_vendor_dismisses_and_restores_a_need(client: FlaskClient, market: Market) -> None:
    log_in(client, market.vendor_member)
    url = _dismiss_url(market, need_ref=market.cebu_lamps.ref)
    response = client.post(url, data={"reason": "not_our_market", "note": "No PH office"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/leads")
    row = db.session.scalar(db.select(LeadDismissal))
    assert row is not None
    assert (row.organization_id, row.need_id, row.reason) == (
        market.lumenark.id,
        market.cebu_lamps.id,
        "not_our_market",
    )
    page = client.get("/leads").text
    page = page[page.index("<h1>") :]  # after the flash message, which names the need
    needs_list, _, dismissed = page.partition("Needs you dismissed")
    assert market.cebu_lamps.title not in needs_list
    assert market.cebu_lamps.title in dismissed and "Not our market" in dismissed
    client.post("/logout")

    log_in(client, market.cebu_member)  # the buyer is not affected by the vendor's choice
    assert "Lumenark Lighting" in _leads_part(client.get(f"/needs/{market.cebu_lamps.ref}").text)
    client.post("/logout")

    log_in(client, market.vendor_member)
    undo = client.post(f"/needs/{market.cebu_lamps.ref}/leads/{market.lumenark.ref}/undo")
    assert undo.status_code == 302 and count_rows(LeadDismissal) == 0
    assert "Needs you dismissed" not in client.get("/leads").text


def test_a_vendor_cannot_dismiss_for_another_vendor(client: FlaskClient, market: Market) -> None:
    log_in(client, market.vendor_member)
    url = _dismiss_url(market, vendor_ref=market.brightpath.ref)
    assert client.post(url, data={"reason": "too_small"}).status_code == 403
    assert count_rows(LeadDismissal) == 0


def test_a_vendor_cannot_dismiss_a_closed_need(client: FlaskClient, market: Market) -> None:
    log_in(client, market.vendor_member)
    url = _dismiss_url(market, need_ref=market.closed.ref)
    assert client.post(url, data={"reason": "too_small"}).status_code == 404
    assert count_rows(LeadDismissal) == 0


# --- staff on a vendor's profile ------------------------------------------------------------------


def test_staff_see_the_needs_a_vendor_could_win_with_its_dismissals(
    client: FlaskClient, market: Market
) -> None:
    log_in(client, market.vendor_member)
    url = _dismiss_url(market, need_ref=market.cebu_lamps.ref)
    client.post(url, data={"reason": "not_our_market", "note": "No PH office"})
    client.post("/logout")

    log_in(client, market.staff)
    page = client.get(f"/vendors/{market.lumenark.ref}").text
    assert STAFF_PANEL in page
    panel = page[page.index(STAFF_PANEL) :]
    assert market.lamps.title in panel and market.cebu_lamps.title in panel  # nothing hidden
    assert "Not our market" in panel and "No PH office" in panel
    for need in (market.closed, market.awarded, market.expired):
        assert need.title not in panel
    assert "/dismiss" not in panel


@pytest.mark.parametrize("who", [None, "vendor_member", "buyer_member"])
def test_only_staff_see_a_vendors_leads(client: FlaskClient, market: Market, who: str) -> None:
    if who:
        log_in(client, getattr(market, who))
    response = client.get(f"/vendors/{market.lumenark.ref}")
    assert response.status_code == 200
    assert STAFF_PANEL not in response.text


def test_buyer_profiles_have_no_vendor_leads(client: FlaskClient, market: Market) -> None:
    log_in(client, market.staff)
    response = client.get(f"/buyers/{market.danang.ref}")
    assert response.status_code == 200 and STAFF_PANEL not in response.text


def test_a_failing_leads_model_leaves_the_need_page_up(
    client: FlaskClient, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken snapshot (here: the model raises) must not turn the need page into a 500."""

    def broken() -> None:
        raise RuntimeError("snapshot file is corrupt")

    monkeypatch.setattr("portal.matching.panels.current_model", broken)
    log_in(client, market.buyer_member)
    response = client.get(f"/needs/{market.lamps.ref}")
    assert response.status_code == 200
    assert market.lamps.title in response.text
    assert "Suggestions are unavailable right now" in response.text


# --- only confident leads first -----------------------------------------------------------------


def _shown_at(monkeypatch: pytest.MonkeyPatch, threshold: float) -> None:
    """The shipped calibration with another shown threshold (and "strong" at least as high)."""
    from dataclasses import replace

    from portal.matching import calibration as calibration_module

    shipped = calibration_module.Calibration.load()
    changed = replace(shipped, shown=threshold, strong=max(threshold, shipped.strong))
    monkeypatch.setattr(calibration_module, "calibration", lambda: changed)
    monkeypatch.setattr("portal.matching.services.calibration", lambda: changed)


def test_confident_leads_come_first_with_their_strength(
    client: FlaskClient, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shown_at(monkeypatch, 0.0)  # every lead is confident enough
    log_in(client, market.buyer_member)
    leads = _leads_part(client.get(f"/needs/{market.lamps.ref}").text)
    assert "Lumenark Lighting" in leads and " match</span>" in leads
    assert 'class="more-leads"' not in leads and "No strong match yet" not in leads


def test_without_a_confident_lead_the_page_says_so_and_keeps_the_rest_behind_show_more(
    client: FlaskClient, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shown_at(monkeypatch, 1.01)  # no probability reaches it
    log_in(client, market.buyer_member)
    leads = _leads_part(client.get(f"/needs/{market.lamps.ref}").text)
    assert "No strong match yet" in leads
    folded = leads[leads.index('class="more-leads"') :]
    assert "Show " in folded and "Lumenark Lighting" in folded
    assert "Weak match" in folded


def test_a_vendors_needs_for_you_fold_the_weaker_ones_too(
    client: FlaskClient, market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shown_at(monkeypatch, 1.01)
    log_in(client, market.vendor_member)
    page = client.get("/leads").text
    assert "No strong match yet" in page and "see your profile</a>" in page  # not escaped
    assert market.lamps.title in page[page.index('class="more-leads"') :]
