"""Forms a person fills in with the keyboard alone (Tab, typing, arrows, Enter), seeing
where the focus is at every step."""

from __future__ import annotations

from e2e_helpers import DEMO, flash, tab_to, unique
from playwright.sync_api import Locator, Page, expect

FOCUS_RING = """element => {
  const style = getComputedStyle(element);
  return {
    focusVisible: element.matches(':focus-visible'),
    outline: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
  };
}"""


def assert_focus_visible(target: Locator) -> None:
    """The focused element shows a ring a sighted keyboard user can follow."""
    expect(target).to_be_focused()
    # the page's stylesheet draws the ring: read the style once it has loaded, or the
    # browser's own 1px "auto" ring is what a page still loading shows
    target.page.wait_for_load_state("load")
    ring = target.evaluate(FOCUS_RING)
    assert ring["focusVisible"], ring
    assert ring["outline"] != "none" and ring["width"] >= 2, ring


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert_focus_visible(skip)
    expect(skip).to_be_in_viewport()  # it shows itself when focused
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_logging_in_with_the_keyboard_only(page: Page) -> None:
    page.goto("/login")
    email = page.get_by_label("Email")
    tab_to(page, email)
    assert_focus_visible(email)
    page.keyboard.type(DEMO["buyer"].email)
    page.keyboard.press("Tab")
    password = page.get_by_label("Password")
    assert_focus_visible(password)
    page.keyboard.type(DEMO["buyer"].password)
    page.keyboard.press("Tab")
    assert_focus_visible(page.get_by_label("Keep me logged in on this device"))
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert_focus_visible(page.get_by_role("button", name="Log in"))
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text("You are logged in.")
    expect(page.get_by_role("link", name=DEMO["buyer"].email)).to_be_visible()


def test_posting_a_need_with_the_keyboard_only(page: Page) -> None:
    page.goto("/login")
    tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(DEMO["buyer"].email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO["buyer"].password)
    page.keyboard.press("Enter")  # Enter in a field submits its form
    expect(flash(page)).to_contain_text("You are logged in.")

    my_organization = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My organization"
    )
    tab_to(page, my_organization)
    assert_focus_visible(my_organization)
    page.keyboard.press("Enter")
    post = page.get_by_role("link", name="Post a need")
    tab_to(page, post)
    assert_focus_visible(post)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Post a need")

    title = unique("Flood warnings for the riverside wards")
    tab_to(page, page.get_by_label("Title"))
    assert_focus_visible(page.get_by_label("Title"))
    page.keyboard.type(title)
    page.keyboard.press("Tab")
    assert_focus_visible(page.get_by_label("The problem, in your words"))
    page.keyboard.type("Streets flood after heavy rain and residents get no warning.")
    page.keyboard.press("Tab")
    sectors = page.get_by_label("Sectors")
    assert_focus_visible(sectors)
    page.keyboard.press("ArrowDown")  # a list box: the arrow keys choose
    expect(sectors).to_have_values(["mobility"])
    page.keyboard.press("Tab")
    assert_focus_visible(page.get_by_label("Budget from (USD)"))
    page.keyboard.type("50000")
    page.keyboard.press("Tab")
    assert_focus_visible(page.get_by_label("Budget up to (USD)"))
    page.keyboard.type("20000")  # below the minimum: the form must say so
    page.keyboard.press("Enter")

    error = page.get_by_text("The maximum must not be below the minimum.")
    expect(error).to_be_visible()
    budget_max = page.get_by_label("Budget up to (USD)")
    expect(budget_max).to_have_attribute("aria-invalid", "true")
    tab_to(page, budget_max)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("90000")
    page.keyboard.press("Enter")

    expect(flash(page)).to_contain_text("Need posted.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_text("US$50,000 to US$90,000")).to_be_visible()
