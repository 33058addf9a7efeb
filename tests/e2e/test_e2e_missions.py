"""A trade-mission event clicked through by the three people it takes: staff, a U.S. vendor
and an ASEAN buyer (issue 13: create, register, request, accept, schedule, publish, the
agenda in the vendor's own zone, the .ics file, and rating the meeting)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from e2e_helpers import DEMO, flash, log_in_as, nav_link, unique
from icalendar import Calendar
from live_portal import Browsing, LiveServer
from playwright.sync_api import Locator, Page, expect
from test_e2e_accessibility import describe, serious_violations

# Demo records with demo logins, both verified (portal/demo/demo.jsonl).
VENDOR_NAME = "BrightPath Signal Systems"
BUYER_NAME = "Da Nang Department of Science and Technology"
EVENT_ZONE = zoneinfo.ZoneInfo("Asia/Bangkok")
VENDOR_ZONE = "America/Denver"
JOIN_LINK = "https://meet.example.org/{event}-{meeting}"


def _open_event(page: Page, name: str) -> None:
    """From the Events link in the header, open the event's page."""
    nav_link(page, "Events").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def _register(page: Page, event: str, organization: str, *, offers: str) -> None:
    """A member registers their own organization from the event's page."""
    _open_event(page, event)
    page.get_by_role("link", name=f"Register {organization}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Register for {event}")
    page.get_by_label("What you offer at this event").fill(offers)


def _submit_registration(page: Page, event: str, organization: str) -> None:
    page.get_by_role("button", name="Register", exact=True).click()
    expect(flash(page)).to_contain_text(f"{organization} is registered for {event}.")


def _requests_page(page: Page, event: str) -> None:
    _open_event(page, event)
    page.get_by_role("link", name="Meeting requests and people to meet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meeting requests")


def _section(page: Page, heading: str) -> Locator:
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading))


def _agenda(page: Page, event: str, organization: str) -> None:
    _open_event(page, event)
    page.get_by_role("link", name="Your agenda").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Agenda of {organization}")


def _rate(page: Page, other: str, attendance: str, rating: str, note: str) -> None:
    """Say on the agenda how the meeting with ``other`` went."""
    row = page.get_by_role("row").filter(has_text=other)
    row.get_by_role("radio", name=attendance, exact=True).check()
    row.get_by_role("radio", name=rating, exact=True).check()
    row.get_by_label("Private note").fill(note)
    row.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text(f"your word on the meeting with {other} is saved")
    expect(page.get_by_role("row").filter(has_text=other)).to_contain_text(
        f"You said: {attendance}, {rating}."
    )


def test_an_event_from_creation_to_rated_meeting(
    browsing: Browsing, live_server: LiveServer
) -> None:
    """Staff create the event through the form with its one session yesterday, in the
    event's zone: the event form accepts sessions in the past (it checks their shape and
    overlaps, not their date), and a meeting can be rated only once it has started. So
    every step runs through the pages against an event that has already taken place,
    and no row is written or shifted behind the portal's back. The vendor takes part
    online from Denver, so its agenda is in Denver time and the meeting is online, with
    the event's join link."""
    event = unique("Da Nang Smart Lighting Mission")
    yesterday = dt.datetime.now(EVENT_ZONE).date() - dt.timedelta(days=1)

    # Staff create the event.
    staff = browsing.new_page()
    log_in_as(staff, "staff")
    nav_link(staff, "Events").click()
    staff.get_by_role("link", name="New event").click()
    staff.get_by_label("Name", exact=True).fill(event)
    staff.get_by_label("City", exact=True).fill("Da Nang")
    staff.get_by_label("Country code").fill("VN")
    staff.get_by_label("Venue").fill("Ariyana Convention Centre")
    staff.get_by_label("Time zone").fill("Asia/Bangkok")
    staff.get_by_label("Sessions").fill(f"{yesterday.isoformat()} 09:00-11:00")
    staff.get_by_label("Meeting length (minutes)").fill("20")
    staff.get_by_label("Tables on site").fill("2")
    staff.get_by_label("Online meetings allowed").check()
    staff.get_by_label("Join link pattern").fill(JOIN_LINK)
    staff.get_by_role("button", name="Create event").click()
    expect(flash(staff)).to_contain_text("Event created.")
    expect(staff.get_by_role("heading", level=1)).to_have_text(event)

    # The vendor registers, online from Denver; the buyer on site.
    vendor = browsing.new_page()
    log_in_as(vendor, "vendor")
    _register(vendor, event, VENDOR_NAME, offers="Adaptive traffic signals, shown live.")
    vendor.get_by_role("radio", name="Online", exact=True).check()
    vendor.get_by_label("Your time zone (online)").fill(VENDOR_ZONE)
    _submit_registration(vendor, event, VENDOR_NAME)

    buyer = browsing.new_page()
    log_in_as(buyer, "buyer")
    _register(buyer, event, BUYER_NAME, offers="Pilots at the river bridges.")
    _submit_registration(buyer, event, BUYER_NAME)
    participants = buyer.locator("ul.participants")
    expect(participants).to_contain_text(VENDOR_NAME)
    expect(participants).to_contain_text(BUYER_NAME)

    # The vendor asks the buyer for a meeting.
    _requests_page(vendor, event)
    ask = _section(vendor, "Ask any participant")
    ask.get_by_label("Participant").select_option(label=BUYER_NAME)
    ask.get_by_label("Message").fill("May we show you our signals on the Han River bridges?")
    ask.get_by_role("button", name="Send request").click()
    expect(flash(vendor)).to_contain_text(f"Request sent to {BUYER_NAME}.")
    expect(_section(vendor, "Your requests")).to_contain_text(f"{BUYER_NAME} · pending")
    live_server.mailbox.wait_for(
        DEMO["buyer"].email, lambda m: m["Subject"] == f"{VENDOR_NAME} asks to meet you at {event}"
    )

    # The buyer accepts.
    _requests_page(buyer, event)
    asked = _section(buyer, "Asked of you").get_by_role("listitem").filter(has_text=VENDOR_NAME)
    expect(asked).to_contain_text("Han River bridges")
    asked.get_by_role("radio", name="Accept").check()
    asked.get_by_role("button", name="Answer").click()
    expect(flash(buyer)).to_contain_text("Request accepted.")
    expect(_section(buyer, "Asked of you")).to_contain_text(f"{VENDOR_NAME} · accepted")

    # Staff run the scheduler and publish.
    _open_event(staff, event)
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="Schedule").click()
    staff.get_by_role("button", name="Run the scheduler").click()
    expect(flash(staff)).to_contain_text("1 meetings placed.")
    result = _section(staff, "Result")
    expect(result).to_contain_text(f"{VENDOR_NAME} and {BUYER_NAME}")
    expect(result.get_by_role("cell", name="online", exact=True)).to_be_visible()
    staff.get_by_role("button", name="Publish the agendas").click()
    expect(flash(staff)).to_contain_text("Published 1 meeting(s).")
    live_server.mailbox.wait_for(
        DEMO["vendor"].email, lambda m: m["Subject"] == f"Your agenda for {event}"
    )

    # The vendor sees its agenda in Denver time, with the join link, and downloads the .ics.
    _agenda(vendor, event, VENDOR_NAME)
    expect(vendor.locator(".agenda-zone")).to_have_text(VENDOR_ZONE)
    meeting = vendor.get_by_role("row").filter(has_text=BUYER_NAME)
    expect(meeting).to_contain_text("Online")
    expect(meeting.get_by_role("link", name="Join link")).to_have_attribute(
        "href", re.compile(r"^https://meet\.example\.org/.+-\d+$")
    )
    with vendor.expect_download() as download_info:
        vendor.get_by_role("link", name="Download the .ics file").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-agenda.ics")
    calendar = Calendar.from_ical(download.path().read_bytes())
    [vevent] = calendar.walk("VEVENT")
    assert BUYER_NAME in str(vevent["SUMMARY"])
    starts = vevent.decoded("DTSTART").astimezone(zoneinfo.ZoneInfo(VENDOR_ZONE))
    ends = vevent.decoded("DTEND").astimezone(zoneinfo.ZoneInfo(VENDOR_ZONE))
    assert starts.astimezone(EVENT_ZONE).date() == yesterday
    # The page and the calendar file agree on the time, read in Denver.
    expect(meeting).to_contain_text(f"{starts:%H:%M}\N{EN DASH}{ends:%H:%M} {starts:%Z}")

    # The private subscription URL serves the same meeting to a calendar, with no login.
    vendor.get_by_role("button", name="Get a private subscription URL").click()
    expect(flash(vendor)).to_contain_text("Your private subscription URL is ready.")
    feed_url = vendor.get_by_label("Subscription URL").input_value()
    calendar_app = browsing.new_page()
    feed = calendar_app.request.get(feed_url)
    assert feed.ok and feed.headers["content-type"].startswith("text/calendar")
    [subscribed] = Calendar.from_ical(feed.body()).walk("VEVENT")
    assert subscribed["UID"] == vevent["UID"]

    # The meeting took place yesterday: both sides rate it.
    _rate(vendor, BUYER_NAME, "Held", "Cooperation possible", "Pilot on two bridges in May.")
    _agenda(buyer, event, BUYER_NAME)
    expect(buyer.locator(".agenda-zone")).to_have_text("Asia/Bangkok")
    _rate(buyer, VENDOR_NAME, "Held", "Interesting", "Ask for the Denver figures.")
    # Each side's note stays with that side.
    vendor.reload()
    expect(vendor.get_by_role("row").filter(has_text=BUYER_NAME)).to_contain_text(
        "You said: Held, Cooperation possible."
    )
    expect(vendor.get_by_text("Ask for the Denver figures.")).to_have_count(0)

    # Staff read what the event came to on its analytics page.
    _open_event(staff, event)
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="Analytics").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(f"Analytics · {event}")
    expect(staff.get_by_role("main")).to_contain_text("1 meeting placed, 1 held;")
    ratings = staff.get_by_role("table", name="Ratings")
    expect(ratings.get_by_role("row").filter(has_text="Cooperation possible")).to_contain_text("1")
    expect(staff.get_by_role("img", name="Ratings")).to_be_visible()
    serious = serious_violations(staff)  # charts, tables and all
    assert not serious, describe(staff.url, serious)
    # Staff register another organization by finding it by name, not by its reference.
    staff.get_by_role("link", name="Event page").click()
    staff.get_by_role("navigation", name="Staff").get_by_role(
        "link", name="Register an organization"
    ).click()
    staff.get_by_label("Name of a verified organization").fill(VENDOR_NAME.split()[0])
    staff.get_by_role("button", name="Find").click()
    expect(staff.get_by_text("already registered")).to_be_visible()
    serious = serious_violations(staff)
    assert not serious, describe(staff.url, serious)
