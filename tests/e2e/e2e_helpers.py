"""Steps that several browser journeys take, written as a person does them."""

from __future__ import annotations

import uuid

from playwright.sync_api import Locator, Page, expect

from portal.demo import DEMO_ACCOUNTS

DEMO = {account.label: account for account in DEMO_ACCOUNTS}
PASSWORD = "correct horse battery"


def unique(prefix: str) -> str:
    """A name no other test (nor an earlier run on the same server) uses."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def log_in(page: Page, email: str, password: str) -> None:
    """Log in through the form, from the link in the site's header."""
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(flash(page)).to_contain_text("You are logged in.")


def log_in_as(page: Page, label: str) -> None:
    """Log in as one of the demo logins: ``staff``, ``vendor`` or ``buyer``."""
    log_in(page, DEMO[label].email, DEMO[label].password)


def flash(page: Page) -> Locator:
    """The messages the portal shows at the top of a page after an action."""
    return page.locator(".flashes")


def nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def post_need(page: Page, title: str, description: str, sectors: list[str]) -> None:
    """A buyer member posts a need from their organization's page."""
    nav_link(page, "My organization").click()
    page.get_by_role("link", name="Post a need").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("The problem, in your words").fill(description)
    page.get_by_label("Sectors").select_option(label=sectors)
    page.get_by_role("button", name="Post need").click()
    expect(flash(page)).to_contain_text("Need posted.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def leads_panel(page: Page) -> Locator:
    """The panel of suggested vendors on a need's page."""
    return page.get_by_role("region", name="Vendors who could solve this")


def tab_to(page: Page, target: Locator, presses: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user moves through a page."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} never got the focus after {presses} presses of Tab")
