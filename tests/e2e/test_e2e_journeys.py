"""The main journeys through the portal, clicked in headless Chromium as people would."""

from __future__ import annotations

import re

from e2e_helpers import (
    PASSWORD,
    flash,
    leads_panel,
    log_in,
    log_in_as,
    nav_link,
    post_need,
    unique,
)
from live_portal import Browsing, LiveServer
from playwright.sync_api import Page, expect

STREETLIGHTS = (
    "The street lamps along the river fail one by one and the electricity bill for street "
    "lighting grows every month. We want LED luminaires with dimming and a central "
    "management system that reports faults."
)


def test_a_vendor_registers_is_verified_by_staff_and_adds_capabilities(
    browsing: Browsing, live_server: LiveServer
) -> None:
    company = unique("Harborline Sensors")
    email = f"{company.split()[-1]}@harborline.example.com"

    vendor = browsing.new_page()
    vendor.goto("/")
    nav_link(vendor, "Join").click()
    vendor.get_by_label("A U.S. company offering smart-city solutions").check()
    vendor.get_by_label("Your full name").fill("Rosa Harbor")
    vendor.get_by_label("Email").fill(email)
    vendor.get_by_label("Password", exact=True).fill(PASSWORD)
    vendor.get_by_label("Password again").fill(PASSWORD)
    vendor.get_by_label("Time zone").select_option(label="United States: Eastern (New York)")
    vendor.get_by_label("Organization name").fill(company)
    vendor.get_by_label("City", exact=True).fill("Baltimore")
    vendor.get_by_role("button", name="Register").click()
    expect(vendor.get_by_role("heading", level=1)).to_contain_text("inbox")

    # The confirmation link from the real mail, opened in the same browser.
    vendor.goto(live_server.mail_link(email, "/confirm/"))
    expect(flash(vendor)).to_contain_text("Your email address is confirmed")
    log_in(vendor, email, PASSWORD)
    nav_link(vendor, "My organization").click()
    expect(vendor.get_by_text("pending", exact=True).first).to_be_visible()

    # Trade staff find it in the queue and approve it.
    staff = browsing.new_page()
    log_in_as(staff, "staff")
    nav_link(staff, "Staff").click()
    entry = staff.get_by_role("region", name=company)
    expect(entry).to_contain_text(email)
    entry.get_by_role("button", name=f"Approve {company}").click()
    expect(flash(staff)).to_contain_text(f"{company} is verified and now public")
    expect(staff.get_by_role("region", name=company)).to_have_count(0)
    live_server.mailbox.wait_for(email, lambda m: m["Subject"] == f"{company} is verified")

    # The vendor, now verified, describes what it sells.
    vendor.reload()
    expect(vendor.get_by_text("verified", exact=True).first).to_be_visible()
    vendor.get_by_role("link", name="Add a capability").click()
    vendor.get_by_label("Title").fill("Tide gauges for storm drains")
    vendor.get_by_label("Description").fill(
        "Ultrasonic water level sensors in drains and canals, reporting every minute."
    )
    vendor.get_by_label("Sectors").select_option(label=["Water", "Disaster resilience"])
    vendor.get_by_role("button", name="Add capability").click()
    expect(flash(vendor)).to_contain_text("Capability added.")
    capabilities = vendor.locator("section").filter(
        has=vendor.get_by_role("heading", name="Capabilities", exact=True)
    )
    expect(capabilities.get_by_role("heading", name="Tide gauges for storm drains")).to_be_visible()

    # The public sees the verified profile with its capability, from the directory.
    anonymous = browsing.new_page()
    anonymous.goto("/")
    nav_link(anonymous, "U.S. vendors").click()
    anonymous.get_by_label("Name contains").fill(company)
    anonymous.get_by_role("button", name="Filter").click()
    anonymous.get_by_role("link", name=company).click()
    expect(anonymous.get_by_role("heading", level=1)).to_have_text(company)
    expect(anonymous.get_by_text("Tide gauges for storm drains")).to_be_visible()
    expect(anonymous.get_by_text(email)).to_have_count(0)  # contacts stay private


def test_a_buyer_posts_a_need_and_sees_leads_with_reasons(page: Page) -> None:
    title = unique("Dim and repair the riverside street lamps")
    log_in_as(page, "buyer")
    post_need(page, title, STREETLIGHTS, ["Energy"])

    leads = leads_panel(page)
    expect(leads).to_be_visible()
    first = leads.get_by_role("listitem").first
    expect(first.get_by_role("heading", level=3)).to_be_visible()
    # Each suggestion says in plain words why it was made.
    expect(first.get_by_role("list").get_by_role("listitem").first).not_to_be_empty()
    expect(leads).to_contain_text(re.compile(r"LED|lighting|street", re.IGNORECASE))


def test_a_buyer_dismisses_a_lead_with_a_reason_and_it_disappears(page: Page) -> None:
    title = unique("Street lighting that reports its own faults")
    log_in_as(page, "buyer")
    post_need(page, title, STREETLIGHTS, ["Energy"])

    leads = leads_panel(page)
    first = leads.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3)).first
    vendor = first.get_by_role("heading", level=3).inner_text()
    first.get_by_text("Not for us?").click()  # the form is folded away until asked for
    first.get_by_label("Reason").select_option(label="Not relevant")
    first.get_by_label("Note").fill("We already chose a lighting supplier")
    first.get_by_role("button", name=f"Dismiss {vendor}").click()

    expect(flash(page)).to_contain_text(f"Dismissed “{vendor}” (not relevant)")
    suggestions = leads_panel(page).get_by_role("list").first
    expect(suggestions.get_by_role("heading", name=vendor, exact=True)).to_have_count(0)
    dismissed = leads_panel(page).get_by_role("listitem").filter(has_text="We already chose")
    expect(dismissed).to_contain_text(vendor)
    expect(dismissed.get_by_role("button", name=f"Undo the dismissal of {vendor}")).to_be_visible()


def test_a_vendor_dismisses_a_need_from_its_leads(page: Page) -> None:
    log_in_as(page, "vendor")
    nav_link(page, "Needs for you").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Needs for you")
    first = page.locator("ol.cards > li").first
    need = first.get_by_role("heading", level=2).inner_text()
    first.get_by_text("Not for us?").click()
    first.get_by_label("Reason").select_option(label="Already in contact")
    first.get_by_role("button", name=f"Dismiss {need}").click()

    expect(flash(page)).to_contain_text(f"Dismissed “{need}”")
    expect(page.locator("ol.cards").get_by_role("heading", name=need, exact=True)).to_have_count(0)
    expect(page.get_by_role("region", name="Needs you dismissed")).to_contain_text(need)
    # Undo brings it back, so the next run of this journey has a lead to dismiss.
    page.get_by_role("button", name=f"Undo the dismissal of {need}").click()
    expect(flash(page)).to_contain_text("The lead is back in your list.")
    expect(page.locator("ol.cards").get_by_role("heading", name=need, exact=True)).to_be_visible()


def _result_count(page: Page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^\d+ results?$"))
    return int(heading.inner_text().split()[0])


def test_search_with_facets_narrows_the_results(page: Page) -> None:
    page.goto("/")
    nav_link(page, "Search").click()
    page.get_by_label("Problems, solutions, companies or cities").fill("flood water")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=flood\+water"))
    everything = _result_count(page)
    assert everything > 1

    facets = page.get_by_role("complementary", name="Filters")
    needs_facet = facets.get_by_role("listitem").filter(
        has=page.get_by_role("link", name="City needs")
    )
    need_count = int(needs_facet.locator(".count").inner_text())
    assert 0 < need_count < everything
    needs_facet.get_by_role("link", name="City needs").click()

    expect(page.get_by_role("heading", name=re.compile(r"^\d+ results?$"))).to_have_text(
        re.compile(rf"^{need_count} results?$")
    )
    expect(page.locator("ol.results > li")).to_have_count(min(need_count, 20))
    for hit in page.locator("ol.results > li").all():
        expect(hit).to_contain_text("City need")
    selected = facets.get_by_role("link", name="City needs")
    expect(selected).to_have_attribute("aria-current", "true")

    # A second facet narrows again; the counts beside each value follow the results.
    countries = facets.locator(".panel").filter(has=page.get_by_role("heading", name="Country"))
    first_country = countries.get_by_role("listitem").first
    country = first_country.get_by_role("link")
    country_name = country.inner_text().strip()
    country_count = int(first_country.locator(".count").inner_text())
    country.click()
    expect(page.get_by_role("heading", name=re.compile(r"^\d+ results?$"))).to_have_text(
        re.compile(rf"^{country_count} results?$")
    )
    for hit in page.locator("ol.results > li").all():
        expect(hit).to_contain_text(country_name)

    # Removing the first facet widens the results again and keeps the text.
    facets.get_by_role("link", name="City needs").click()
    expect(page.get_by_label("Problems, solutions, companies or cities")).to_have_value(
        "flood water"
    )
    assert _result_count(page) >= country_count
