"""The brokered introduction, clicked through by the three people it takes, and the staff
pipeline that counts it."""

from __future__ import annotations

import re

from e2e_helpers import flash, log_in_as, nav_link
from live_portal import Browsing
from playwright.sync_api import Page, expect

# Demo records with demo logins on both sides (portal/demo/demo.jsonl).
VENDOR_NAME = "BrightPath Signal Systems"
VENDOR_CONTACT = "maria.okafor@brightpath.example.com"
BUYER_NAME = "Da Nang Department of Science and Technology"
BUYER_CONTACT = "tran.mai@danang-dst.example.org"
NEED_TITLE = "Peak-hour queues at the river bridges"


def _open_introduction(page: Page) -> None:
    """From the Introductions link in the header, open the one between the two."""
    nav_link(page, "Introductions").click()
    page.get_by_role("link", name=re.compile(VENDOR_NAME)).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{VENDOR_NAME} and {BUYER_NAME}")


def test_an_introduction_is_requested_approved_accepted_and_shares_contacts(
    browsing: Browsing,
) -> None:
    # The vendor asks, from the buyer's public profile, about one of its needs.
    vendor = browsing.new_page()
    log_in_as(vendor, "vendor")
    nav_link(vendor, "ASEAN buyers").click()
    vendor.get_by_role("link", name=BUYER_NAME).click()
    expect(vendor.get_by_text(BUYER_CONTACT)).to_have_count(0)  # private before
    vendor.get_by_role("link", name="Request an introduction").click()
    vendor.get_by_label("About the need").select_option(label=NEED_TITLE)
    vendor.get_by_label("Why should you meet?").fill(
        "Our adaptive signals shortened peak queues by a fifth in Denver; may we show you?"
    )
    vendor.get_by_role("button", name="Send the request").click()
    expect(flash(vendor)).to_contain_text("Your request is sent")
    expect(vendor.get_by_role("region", name="Contacts")).to_have_count(0)

    # Trade staff find it in their list, review it and approve it.
    staff = browsing.new_page()
    log_in_as(staff, "staff")
    _open_introduction(staff)
    staff.get_by_role("button", name="Take for review").click()
    expect(staff.get_by_role("button", name="Approve")).to_be_visible()
    staff.get_by_role("button", name="Approve").click()
    expect(staff.get_by_text("Approved by staff").first).to_be_visible()

    # The buyer, asked to consent, accepts.
    buyer = browsing.new_page()
    log_in_as(buyer, "buyer")
    _open_introduction(buyer)
    buyer.get_by_role("button", name="Accept the introduction").click()
    expect(buyer.get_by_text("Introduced", exact=True).first).to_be_visible()
    buyer_sees = buyer.get_by_role("region", name="Contacts")
    expect(buyer_sees).to_contain_text(VENDOR_CONTACT)
    expect(buyer_sees).not_to_contain_text(BUYER_CONTACT)  # only the other side's

    # The vendor now sees the buyer's contacts on the introduction.
    vendor.reload()
    vendor_sees = vendor.get_by_role("region", name="Contacts")
    expect(vendor_sees).to_contain_text(BUYER_CONTACT)
    expect(vendor_sees).to_contain_text("Tran Thi Mai")

    # Staff's pipeline counts it among the introduced.
    nav_link(staff, "Pipeline").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Introductions pipeline")
    states = staff.get_by_role("table", name="Introductions per state")
    introduced = states.get_by_role("row").filter(
        has=staff.get_by_role("cell", name="Introduced", exact=True)
    )
    expect(introduced.get_by_role("cell").nth(1)).to_have_text(re.compile(r"^[1-9]\d*$"))
    waiting = staff.get_by_role("region", name="Oldest waiting")
    expect(waiting).to_be_visible()


def test_the_staff_pipeline_filters_by_state(page: Page) -> None:
    log_in_as(page, "staff")
    nav_link(page, "Pipeline").click()
    page.get_by_label("State", exact=True).select_option(index=1)
    state = page.get_by_label("State", exact=True).evaluate(
        "select => select.selectedOptions[0].text"
    )
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"state="))
    expect(page.get_by_label("State", exact=True)).to_have_value(re.compile(r".+"))
    expect(page.get_by_text(re.compile(r"\d+ introduction\(s\) match"))).to_be_visible()
    expect(page.get_by_role("table", name="Introductions per state")).to_be_visible()
    assert state
