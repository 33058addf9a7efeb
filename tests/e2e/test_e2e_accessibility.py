"""The main pages checked with axe-core in Chromium: no serious or critical violation.

axe-core is vendored (``vendor/axe.min.js``, see ``vendor/README.md``). The portal's
Content-Security-Policy allows scripts from the portal only, so a ``<script>`` tag with
axe's text (what ``page.add_script_tag`` adds) would be refused. ``page.evaluate`` runs
the text through the browser's DevTools protocol instead, which the CSP does not govern;
so each page is checked exactly as served, its CSP in force, and with no
``bypass_csp`` that would also hide a violation of the portal's own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DEMO, log_in_as, unique
from live_portal import Browsing, LiveServer
from playwright.sync_api import Page

from portal.accounts.services import find_user_by_email
from portal.introductions.services import request_introduction
from portal.organizations.models import OrganizationKind
from portal.organizations.services import create_organization, find_organization

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}

# Demo records (portal/demo/demo.jsonl) that every run of the server holds.
VENDOR = "demo-v-brightpath"
BUYER = "demo-b-danang-dst"
NEED = "demo-n-danang-bridge-traffic"  # an open need of the demo buyer


@cache
def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it stands (WCAG 2 A/AA rules and best practices)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return result["violations"]


def serious_violations(page: Page) -> list[dict[str, Any]]:
    return [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]


def describe(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{url}:"]
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(
                f"      {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1]}"
            )
    return "\n".join(lines)


def check_pages(page: Page, paths: list[str]) -> None:
    """Visit each path and fail with every serious or critical violation found on any."""
    problems = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, (
            f"{path}: {response and response.status}"
        )
        serious = serious_violations(page)
        if serious:
            problems.append(describe(path, serious))
    assert not problems, "accessibility violations:\n" + "\n".join(problems)


def test_public_pages(page: Page) -> None:
    check_pages(
        page,
        [
            "/",
            "/vendors",
            "/vendors?sector=water",
            "/buyers",
            f"/vendors/{VENDOR}",
            f"/buyers/{BUYER}",
            "/needs",
            f"/needs/{NEED}",
            "/search",
            "/search?q=flood+water",
            "/search?q=flood+water&kind=need",
            "/search?q=flod",  # "did you mean"
            "/login",
            "/register",
            "/reset",
        ],
    )


def test_forms_showing_their_errors(page: Page) -> None:
    page.goto("/register")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Enter your name.").wait_for()
    serious = serious_violations(page)
    assert not serious, describe("/register after an empty submit", serious)

    page.goto("/login")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Enter your email address.").wait_for()
    serious = serious_violations(page)
    assert not serious, describe("/login after an empty submit", serious)


def test_buyer_pages(page: Page) -> None:
    log_in_as(page, "buyer")
    check_pages(page, [f"/needs/{NEED}", "/organization", "/needs/new", "/account"])


def test_vendor_pages(page: Page) -> None:
    log_in_as(page, "vendor")
    check_pages(
        page,
        [
            "/leads",
            "/organization",
            f"/organizations/{VENDOR}/edit",
            f"/organizations/{VENDOR}/capabilities/new",
            f"/organizations/{VENDOR}/contacts/new",
        ],
    )


def test_staff_pages(page: Page, live_server: LiveServer) -> None:
    # An organization waiting in the queue, so that the queue shows its forms.
    live_server.run(
        lambda: create_organization(
            OrganizationKind.BUYER, unique("Pending Water Board"), "TH", city="Chiang Mai"
        )
    )
    log_in_as(page, "staff")
    check_pages(page, ["/staff/verification", f"/vendors/{VENDOR}", f"/needs/{NEED}"])


def _introduction_asked_by_the_demo_buyer() -> int:
    """An introduction waiting for staff, asked by the demo buyer of a demo vendor."""
    introduction = request_introduction(
        find_user_by_email(DEMO["buyer"].email),  # type: ignore[arg-type]
        vendor=find_organization("demo-v-tidewater"),  # type: ignore[arg-type]
        buyer=find_organization(BUYER),  # type: ignore[arg-type]
        message="Our river wards flood every rainy season.",
        confirm_duplicate=True,  # another run of this test may have asked already
    )
    return introduction.id


def test_introduction_pages(browsing: Browsing, live_server: LiveServer) -> None:
    introduction = f"/introductions/{live_server.run(_introduction_asked_by_the_demo_buyer)}"
    staff = browsing.new_page()
    log_in_as(staff, "staff")
    check_pages(
        staff,
        ["/staff/dashboard", "/staff/introductions", "/staff/introductions/propose", introduction],
    )
    buyer = browsing.new_page()
    log_in_as(buyer, "buyer")
    check_pages(buyer, ["/introductions", introduction])
    vendor = browsing.new_page()
    log_in_as(vendor, "vendor")
    check_pages(vendor, ["/introductions", f"/introductions/new?with={BUYER}"])


@pytest.mark.parametrize("path", ["/no-such-page", f"/needs/{NEED}-gone"])
def test_error_pages(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 404
    serious = serious_violations(page)
    assert not serious, describe(path, serious)
