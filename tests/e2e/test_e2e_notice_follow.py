"""A tender followed through the pages by its two sides (issue 12): the buyer publishes an
RFP with a document, a vendor follows it and asks a question, the buyer answers in public
and moves the deadline, and the vendor's mail and calendar feed show both."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from e2e_helpers import DEMO, flash, log_in_as, nav_link, unique
from icalendar import Calendar
from live_portal import Browsing, LiveServer
from playwright.sync_api import Page, expect
from test_e2e_accessibility import NEED, check_pages, describe, serious_violations

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _post_rfp(buyer: Page, title: str, closes_on: dt.date) -> str:
    """The buyer posts a tender with a closing date; returns its page's path."""
    nav_link(buyer, "My organization").click()
    buyer.get_by_role("link", name="Post a need").click()
    buyer.get_by_label("Title").fill(title)
    buyer.get_by_label("The problem, in your words").fill(
        "Water level sensors on twelve bridges, with early warning to the city."
    )
    buyer.get_by_label("Sectors").select_option(label=["Water"])
    buyer.get_by_label("Notice type").select_option(label="Request for proposals (tender)")
    buyer.get_by_label("Closing date").fill(closes_on.isoformat())
    buyer.get_by_role("button", name="Post need").click()
    expect(flash(buyer)).to_contain_text("Need posted.")
    return urlsplit(buyer.url).path


def test_a_followed_tender_tells_its_follower_of_answers_and_a_moved_deadline(
    browsing: Browsing, live_server: LiveServer
) -> None:
    title = unique("Flood sensors tender")
    today = dt.datetime.now(dt.UTC).date()
    first_deadline, new_deadline = today + dt.timedelta(days=30), today + dt.timedelta(days=44)
    vendor_email = DEMO["vendor"].email

    buyer = browsing.new_page()
    log_in_as(buyer, "buyer")
    need_path = _post_rfp(buyer, title, first_deadline)
    buyer.get_by_role("link", name="Attach a document").click()
    buyer.get_by_label("Document").set_input_files(
        files=[{"name": "terms-of-reference.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    buyer.get_by_role("button", name="Attach").click()
    expect(buyer.locator("#documents")).to_contain_text("terms-of-reference.pdf")

    vendor = browsing.new_page()
    log_in_as(vendor, "vendor")
    vendor.goto(need_path)
    vendor.get_by_role("button", name="Follow", exact=True).click()
    expect(flash(vendor)).to_contain_text("You follow this need")
    vendor.get_by_label("Your question").fill("Is LoRaWAN acceptable for the gauges?")
    vendor.get_by_role("button", name="Ask the buyer").click()

    buyer.goto(need_path)
    buyer.get_by_role("textbox", name="Answer (published").fill(
        "Yes, or NB-IoT where coverage allows."
    )
    buyer.get_by_role("button", name="Publish the answer").click()
    answered = live_server.mailbox.wait_for(
        vendor_email, lambda m: m["Subject"] == f"New answer: {title}"
    )
    body = live_server.mailbox.body(answered)
    assert "Question: Is LoRaWAN acceptable for the gauges?" in body
    assert "Answer: Yes, or NB-IoT where coverage allows." in body

    buyer.get_by_role("link", name="Edit", exact=True).click()
    buyer.get_by_label("Closing date").fill(new_deadline.isoformat())
    buyer.get_by_role("button", name="Save need").click()
    expect(flash(buyer)).to_contain_text("Need saved.")
    amended = live_server.mailbox.wait_for(
        vendor_email,
        lambda m: (
            m["Subject"] == f"New amendment: {title}"
            and "Closing date" in live_server.mailbox.body(m)
        ),
    )
    assert (
        f"Closing date: {first_deadline.isoformat()} -> {new_deadline.isoformat()}"
        in live_server.mailbox.body(amended)
    )

    vendor.goto("/followed")
    expect(vendor.get_by_role("heading", level=1)).to_have_text("My followed needs")
    expect(vendor.locator(".cards")).to_contain_text(title)
    vendor.get_by_role("button", name="Get a subscription URL").click()
    feed_url = vendor.get_by_label("Your calendar subscription URL").input_value()
    assert feed_url.startswith(live_server.url)
    feed = vendor.request.get(feed_url)
    assert feed.ok and feed.headers["content-type"].startswith("text/calendar")
    deadlines = [
        event
        for event in Calendar.from_ical(feed.text()).walk("VEVENT")
        if str(event["SUMMARY"]) == f"Closes: {title}"
    ]
    assert [event.decoded("DTSTART") for event in deadlines] == [new_deadline]


def test_follow_and_saved_search_pages_are_accessible(page: Page) -> None:
    log_in_as(page, "vendor")
    check_pages(
        page,
        [
            f"/needs/{NEED}",  # the Follow button
            "/search?q=flood+water",  # the "save this search" form
            "/followed",
            "/saved-searches",
            "/saved-searches/new?q=flood&sector=water&country=VN",
        ],
    )
    page.goto("/saved-searches/new")
    page.get_by_label("Name").fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Give the search a name.").wait_for()
    serious = serious_violations(page)
    assert not serious, describe("/saved-searches/new after an empty submit", serious)
